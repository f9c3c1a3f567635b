// Mutual TLS refused: the server (TLS 1.2 at most, so the handshake is in the clear) asks for a
// client certificate and requires one; the client has none, sends an empty Certificate message,
// and the server ends the handshake with a fatal handshake_failure alert.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description =
  'TLS 1.2 with a client certificate required: CertificateRequest from the server, an empty Certificate from the client, then a fatal handshake_failure alert from the server: the client had no certificate to give';

export default async function tlsClientCert({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls-client-cert', port, server: { maxVersion: 'TLSv1.2', requireClientCert: true }, client: { trust: true } });
  if (outcome !== 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') throw new Error(`tls-client-cert: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
