// No TLS version in common: the server accepts TLS 1.3 only, the client offers at most TLS 1.2.
// The server answers the ClientHello with a fatal protocol_version alert.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description = 'the client offers TLS 1.2 at most, the server accepts only TLS 1.3: fatal protocol_version alert from the server after the ClientHello';

export default async function tlsVersion({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls-version', port, server: { minVersion: 'TLSv1.3' }, client: { trust: true, maxVersion: 'TLSv1.2' } });
  if (!/^ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION$|PROTOCOL_VERSION/.test(outcome)) throw new Error(`tls-version: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
