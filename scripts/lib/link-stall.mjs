// A router's link that passes nothing for a while and then lets its whole queue go at once: a
// token bucket at 8 bit/s with a 1 MB queue, its bucket emptied first, then the same tbf changed to
// 10 Gbit/s, which keeps the queue. The path-stall scenarios hold a client's answers with it.
import { execInNamespace } from './netns.mjs';

/** `count` UDP datagrams of 1,400 bytes from `ns` to a closed port at `addr`. */
function sendDatagrams(ns, addr, count) {
  return execInNamespace(ns, 'python3', ['-c', `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b'x' * 1400, ('${addr}', 9)) for _ in range(${count})]`]);
}

/**
 * From now on `ifname` in `ns` holds what it is given. Its bucket starts full (3,000 bytes):
 * `emptyingDatagrams` large datagrams toward `toAddr` empty it (two leave room for one small packet).
 */
export async function holdLink(ns, ifname, toAddr, emptyingDatagrams) {
  await execInNamespace(ns, 'tc', ['qdisc', 'replace', 'dev', ifname, 'root', 'tbf', 'rate', '8bit', 'burst', '3000', 'limit', '1000000']);
  await sendDatagrams(ns, toAddr, emptyingDatagrams);
}

/**
 * `ifname` lets its queue go. The queue moves once a packet comes to it after the change: with
 * `nudge`, one more datagram toward `toAddr` lets it go now, not with the next packet held.
 */
export async function releaseLink(ns, ifname, toAddr, { nudge = false } = {}) {
  await execInNamespace(ns, 'tc', ['qdisc', 'change', 'dev', ifname, 'root', 'tbf', 'rate', '10gbit', 'burst', '10mb', 'limit', '1000000']);
  if (nudge) await sendDatagrams(ns, toAddr, 1);
}
