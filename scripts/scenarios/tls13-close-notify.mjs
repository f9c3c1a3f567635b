// A TLS 1.3 session closed cleanly with no data: openssl s_server with session tickets off
// (-num_tickets 0) and openssl s_client with nothing to send. The client sends close_notify and its
// FIN; the server answers with its own close_notify, one encrypted 19-byte record like an alert,
// and its FIN. Nothing failed.
import { withCapture } from '../lib/capture.mjs';
import { runCommand, startProcess } from '../lib/proc.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { makeCertificate } from '../lib/tls-scenario.mjs';

export const description =
  "TLS 1.3 between openssl s_server (-num_tickets 0) and openssl s_client with nothing to send: the handshake, the client's close_notify and FIN, the server's close_notify (19 bytes, an alert's size) and FIN: a clean close, not a refusal";

export default async function tls13CloseNotify({ dir, port }) {
  const file = captureFile(dir, 'tls13-close-notify');
  const serverPort = port ?? (await pickFreePort());
  const { keyFile, certFile } = await makeCertificate(dir);
  const server = await startProcess('openssl', ['s_server', '-accept', String(serverPort), '-cert', certFile, '-key', keyFile, '-num_tickets', '0', '-naccept', '1', '-quiet'], { maxLifetimeMs: 15_000 });
  try {
    // A probe connection would use up its one accept: give it time to listen instead.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await withCapture({ filter: `tcp port ${serverPort}`, file }, async () => {
      await runCommand('openssl', ['s_client', '-connect', `127.0.0.1:${serverPort}`, '-tls1_3'], { timeoutMs: 5_000, input: '' });
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
  } finally {
    await server.stop();
  }
  return { file, expect: { description } };
}
