// The client does not trust the server's self-signed certificate, over TLS 1.3: the certificate
// and the client's alert are encrypted, so the capture shows only a 19-byte encrypted record from
// the client (an alert's size) and its close.
import { runTlsScenario } from '../lib/tls-scenario.mjs';

export const description = 'TLS 1.3: the client rejects the self-signed certificate; its alert is encrypted (one 19-byte record), then it closes';

export default async function tls13UnknownCa({ dir, port }) {
  const { file, outcome } = await runTlsScenario({ dir, name: 'tls13-unknown-ca', port, server: {}, client: { trust: false } });
  if (outcome !== 'DEPTH_ZERO_SELF_SIGNED_CERT') throw new Error(`tls13-unknown-ca: the client ended with ${outcome}`);
  return { file, expect: { description, outcome } };
}
