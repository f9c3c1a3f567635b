// A server in its own namespace listens with backlog 1 and never calls accept(), with
// tcp_abort_on_overflow=0 (the default: drop, don't reset). Six clients connect in one burst and
// two more 300 ms later; all give up after 3 s.
//  - Two handshakes complete into the accept queue (backlog 1 admits two); their FINs get ACKed.
//  - Burst SYNs that arrive before the queue fills are answered, but the final ACK finds the queue
//    full and is dropped: those clients believe they are connected, the server never does, and
//    their FINs go unanswered. With so small a backlog the SYN queue also counts as full after one
//    pending request, so most of these SYN-ACKs are SYN cookies (stateless, never retransmitted);
//    the one kept as a request socket is retransmitted at ~1 s and ~3 s.
//  - SYNs arriving once the accept queue is full are dropped and retried at ~1 s and ~3 s.
// Which burst SYNs are answered is a race between the kernel finishing one handshake and the next
// SYN arriving. On a veth the whole handshake normally runs inside connect(), so no second SYN
// would be answered; RPS on both veth ends moves receive processing to other CPUs, which lets
// several SYNs in before the first ACK. The exact mix therefore varies from run to run.
import os from 'node:os';
import { withCapture } from '../lib/capture.mjs';
import {
  execInNamespace,
  setNamespaceSysctl,
  startInNamespace,
  useClassicSynBackoff,
  withNamespacePair,
} from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const BURST_CLIENTS = 6;
const LATE_CLIENTS = 2;
const LATE_DELAY_S = 0.3;
const CLIENT_TIMEOUT_S = 3;

const NEVER_ACCEPTING_SERVER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('ready', flush=True)
time.sleep(30)  # never accepts; stopped long before this
`;

// Opens `burst` connections back to back (non-blocking), then `late` more after `late_delay`;
// prints "connected" or "timeout" per client in start order, and closes all at the end.
const OVERFLOWING_CLIENTS = `
import select, socket, sys, time
addr, port, burst, late, late_delay, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
start = time.monotonic()
clients = []  # [socket, started_at, result]
def open_clients(n):
    # Sockets first, then the connects back to back, so the SYNs leave as close together as possible.
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    for s in sockets:
        s.setblocking(False)
    for s in sockets:
        s.connect_ex((addr, port))
        clients.append([s, time.monotonic(), None])
def poll(until):
    while time.monotonic() < until:
        waiting = [c for c in clients if c[2] is None]
        for c in waiting:
            if time.monotonic() - c[1] >= timeout:
                c[2] = 'timeout'
        waiting = [c for c in waiting if c[2] is None]
        if not waiting:
            time.sleep(max(0.0, until - time.monotonic()))
            return
        _, writable, _ = select.select([], [c[0] for c in waiting], [], 0.05)
        for c in waiting:
            if c[0] in writable:
                err = c[0].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                c[2] = 'connected' if err == 0 else 'error-%d' % err
open_clients(burst)
poll(start + late_delay)
open_clients(late)
poll(start + late_delay + timeout)
for c in clients:
    c[0].close()
print(' '.join(c[2] or 'timeout' for c in clients))
`;

export const description =
  'backlog 1, no accept(), 6 clients in a burst + 2 late: 2 handshakes complete; other SYNs are answered (mostly SYN cookies; a stateful SYN-ACK is retransmitted at 1 s and 3 s) but their final ACK is dropped, so client FINs are never ACKed; late SYNs are dropped and retried: listen queue overflow (accept backlog full, server not accepting)';

export default async function listenOverflow({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'listen-overflow');
  const results = await withNamespacePair({}, async ({ client, server }) => {
    await setNamespaceSysctl(server.ns, 'net.ipv4.tcp_abort_on_overflow', '0');
    await setNamespaceSysctl(server.ns, 'net.ipv4.tcp_syncookies', '1');
    await useClassicSynBackoff(client.ns);
    await spreadReceiveProcessing(server);
    await spreadReceiveProcessing(client);
    const serverProcess = await startInNamespace(
      server.ns,
      'python3',
      ['-c', NEVER_ACCEPTING_SERVER, server.addr, String(port)],
      { readyPattern: /ready/, maxLifetimeMs: 30_000 },
    );
    try {
      return await withCapture({ iface: server.ifname, netns: server.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(
          client.ns,
          'python3',
          ['-c', OVERFLOWING_CLIENTS, server.addr, String(port), String(BURST_CLIENTS), String(LATE_CLIENTS), String(LATE_DELAY_S), String(CLIENT_TIMEOUT_S)],
          { timeoutMs: (LATE_DELAY_S + CLIENT_TIMEOUT_S) * 1000 + 5_000 },
        );
        return stdout.trim().split(' ');
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (results.length !== BURST_CLIENTS + LATE_CLIENTS) throw new Error(`listen-overflow: unexpected client output ${results.join(' ')}`);
  if (!results.includes('timeout')) throw new Error(`listen-overflow: no client saw its SYN dropped (${results.join(' ')})`);
  return { file, expect: { description, clientResults: results } };
}

/** Steers packets arriving on this veth end to all CPUs (RPS), so receive work runs apart from the sender. */
async function spreadReceiveProcessing(end) {
  const cpus = Math.max(1, os.availableParallelism());
  const mask = ((1 << Math.min(cpus, 30)) - 1).toString(16);
  await execInNamespace(end.ns, 'sh', ['-c', `echo ${mask} > /sys/class/net/${end.ifname}/queues/rx-0/rps_cpus`], { check: false });
}
