// The client does not trust the server's self-signed certificate. With TLS 1.2 (the server's
// maximum here) the certificate travels in the clear; node finishes the handshake, then checks the
// certificate and closes without a request and without an alert.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description = 'TLS 1.2: the server sends a self-signed certificate; the client finishes the handshake, rejects the certificate and closes without a request';

export default async function tlsUnknownCa({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls-unknown-ca', port, server: { maxVersion: 'TLSv1.2' }, client: { trust: false } });
  if (outcome !== 'DEPTH_ZERO_SELF_SIGNED_CERT') throw new Error(`tls-unknown-ca: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
