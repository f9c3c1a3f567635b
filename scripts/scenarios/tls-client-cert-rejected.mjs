// Mutual TLS refused: the server (TLS 1.2 at most) requires a client certificate signed by its own
// CA; the client sends a self-signed one, and the node server closes right after the client's
// Finished without its own and without an alert (the client sees ECONNRESET or an alert error).
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description =
  "TLS 1.2 with a client certificate required: the client sends a self-signed certificate the server does not trust; the server closes right after the client's Finished, without its own and without an alert: the client certificate was refused";

export default async function tlsClientCertRejected({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls-client-cert-rejected', port, server: { maxVersion: 'TLSv1.2', requireClientCert: true }, client: { trust: true, certificate: 'self-signed' } });
  if (!/^(ERR_SSL_SSLV3_ALERT_\w+|ECONNRESET)$/.test(outcome)) throw new Error(`tls-client-cert-rejected: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
