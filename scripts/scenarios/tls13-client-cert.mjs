// Mutual TLS refused in TLS 1.3: the server requires a client certificate and the client has none.
// Everything after the hellos is encrypted, so the server's certificate_required alert travels as
// one encrypted 19-byte record, right after the client's Finished; then the server closes.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description =
  "TLS 1.3 with a client certificate required and none given: the client's Finished and request, then one encrypted 19-byte record from the server (its certificate_required alert) and its FIN: the server refused the client at the end of the handshake";

export default async function tls13ClientCert({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls13-client-cert', port, server: { requireClientCert: true }, client: { trust: true } });
  if (outcome !== 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') throw new Error(`tls13-client-cert: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
