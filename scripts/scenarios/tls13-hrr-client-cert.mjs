// tls13-client-cert after a HelloRetryRequest: the server accepts only P-384, so the client's first
// key share (X25519) draws a HelloRetryRequest, a ChangeCipherSpec and a second ClientHello before
// the real ServerHello. The client has no certificate, and the server refuses it with an encrypted
// certificate_required alert right after the client's Finished.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description =
  "TLS 1.3 after a HelloRetryRequest (the server takes only P-384), a client certificate required and none given: the client's Finished and request, then one encrypted 19-byte record from the server (its certificate_required alert) and its FIN";

export default async function tls13HrrClientCert({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls13-hrr-client-cert', port, server: { requireClientCert: true, ecdhCurve: 'P-384' }, client: { trust: true } });
  if (outcome !== 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') throw new Error(`tls13-hrr-client-cert: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
