// Free TCP port picker for loopback scenarios.
//
// Ports come from below the kernel's ephemeral range (32768-60999 by default), so a capture
// filter on `tcp port N` does not pick up some other program's outgoing connection that the
// kernel happened to give the same source port.
import net from 'node:net';

const DEFAULT_MIN_PORT = 20000;
const DEFAULT_MAX_PORT = 32000;
const MAX_ATTEMPTS = 50;

/** Resolves true when `port` can be bound on `host` right now. */
export function isPortFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * Picks a port that is free on `host`: random in [min, max], tried at most 50 times.
 * Nothing holds the port afterwards, so bind it soon.
 */
export async function pickFreePort({ host = '127.0.0.1', min = DEFAULT_MIN_PORT, max = DEFAULT_MAX_PORT } = {}) {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (await isPortFree(port, host)) return port;
  }
  throw new Error(`no free TCP port on ${host} in ${min}-${max} after ${MAX_ATTEMPTS} attempts`);
}
