// A node client connects to a loopback port nobody listens on: SYN, then RST+ACK (ECONNREFUSED).
import net from 'node:net';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';

export const description = 'SYN to a closed loopback port answered by RST+ACK: refused, no listener';

export default async function refused({ dir, port }) {
  const file = captureFile(dir, 'refused');
  const closedPort = port ?? (await pickFreePort());
  const error = await withCapture({ filter: `tcp port ${closedPort}`, file }, () => connectExpectingError(closedPort));
  if (error.code !== 'ECONNREFUSED') throw new Error(`refused: expected ECONNREFUSED, got ${error.code ?? error.message}`);
  return { file, expect: { description } };
}

function connectExpectingError(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`refused: port ${port} neither refused nor accepted within 3 s`));
    }, 3_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`refused: something is listening on port ${port}`));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}
