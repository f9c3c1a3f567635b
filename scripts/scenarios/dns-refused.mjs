// A resolver that is down: node's resolver (c-ares) sends one query to port 53 of a loopback
// address nothing listens on, and the kernel answers with ICMP port unreachable; the lookup fails
// with ECONNREFUSED. 1.5 s later the application tries an unrelated UDP port (also refused), so
// the capture goes on past the second a DNS answer may take.
import dgram from 'node:dgram';
import { promises as dns } from 'node:dns';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { LOOPBACK } from '../servers/net-helpers.mjs';

export const description = 'one DNS query to a loopback resolver nothing listens on, answered by ICMP port unreachable: the lookup fails at once';

/** A loopback address whose port 53 nothing serves (127.0.0.53 is systemd-resolved's). */
const RESOLVER = '127.0.0.153';

const LATER_MS = 1_500;

export default async function dnsRefused({ dir }) {
  const file = captureFile(dir, 'dns-refused');
  const laterPort = await pickFreePort();
  const code = await withCapture({ filter: `(host ${RESOLVER} and udp port 53) or udp port ${laterPort} or icmp`, file }, async () => {
    const resolver = new dns.Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([RESOLVER]);
    let failure;
    try {
      await resolver.resolve4('api.example');
    } catch (err) {
      failure = err.code;
    }
    await new Promise((resolve) => setTimeout(resolve, LATER_MS));
    await sendOnce(laterPort);
    return failure;
  });
  if (code !== 'ECONNREFUSED') throw new Error(`dns-refused: expected ECONNREFUSED from the resolver, got ${code ?? 'an answer'}`);
  return { file, expect: { description, resolver: RESOLVER } };
}

/** One datagram to `port` on loopback; its ICMP error comes back within the capture. */
function sendOnce(port) {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const fail = (err) => {
      socket.close();
      reject(err);
    };
    socket.once('error', fail);
    socket.send(Buffer.from('ping'), port, LOOPBACK, (err) => {
      if (err) return fail(err);
      // The ICMP error of a connectionless socket is not reported to it: wait a moment for the packet, then close.
      setTimeout(() => {
        socket.close();
        resolve();
      }, 50);
    });
  });
}
