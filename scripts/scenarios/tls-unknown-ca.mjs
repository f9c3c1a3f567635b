// The client does not trust the server's self-signed certificate. With TLS 1.2 (the server's
// maximum here) the certificate and the client's alert travel in the clear: a fatal unknown_ca
// alert from the client right after the server's hello.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description = 'TLS 1.2: the server sends a self-signed certificate, the client rejects it with a fatal alert (unknown_ca, in the clear) and closes';

export default async function tlsUnknownCa({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls-unknown-ca', port, server: { maxVersion: 'TLSv1.2' }, client: { trust: false } });
  if (outcome !== 'DEPTH_ZERO_SELF_SIGNED_CERT') throw new Error(`tls-unknown-ca: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
