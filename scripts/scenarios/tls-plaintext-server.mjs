// wss:// or https:// against a plain HTTP port: the client sends a ClientHello, node's HTTP server
// answers "400 Bad Request" in plain text and closes; the client reports "wrong version number".
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description = 'a TLS client against a plain HTTP server: ClientHello answered by "HTTP/1.1 400 Bad Request" in plain text';

export default async function tlsPlaintextServer({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls-plaintext-server', port, server: { plain: true }, client: { trust: true } });
  if (!/WRONG_VERSION_NUMBER|EPROTO|ECONNRESET/.test(outcome)) throw new Error(`tls-plaintext-server: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
