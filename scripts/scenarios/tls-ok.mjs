// A TLS 1.3 handshake that works: the client trusts the server's certificate, sends one HTTP
// request and reads the answer. Everything after the hellos is encrypted.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description = 'TLS 1.3 handshake with SNI localhost and ALPN http/1.1, one encrypted request and answer, then close: TLS OK, content not visible';

export default async function tlsOk({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls-ok', port, server: {}, client: { trust: true } });
  if (outcome !== 'ok HTTP/1.1 200 OK') throw new Error(`tls-ok: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
