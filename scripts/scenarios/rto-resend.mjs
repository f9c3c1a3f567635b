// A ten-segment response whose last segment is lost three times on the way to the client. The
// client ACKs the rest at once, so the tail is alone in flight and Linux arms its tail-loss probe
// for 2 SRTT + 200 ms, allowing for a delayed ACK: the probe comes about 0.2 s after the original,
// as late as a timeout, and is lost too; the retransmission timer then resends the tail at about
// 0.4 s and 0.85 s, and the last gets through.
import { tailDropped } from '../lib/tail-drop.mjs';
import { captureFile } from '../lib/scenario.mjs';

export const description =
  'ten-segment response between namespaces, its last segment dropped three times by the client namespace: a tail-loss probe about 0.2 s after the original (the tail alone in flight), then two resends by the retransmission timer at about 0.4 s and 0.85 s';

export default async function rtoResend({ dir, port = 8080 }) {
  const file = captureFile(dir, 'rto-resend');
  const counters = await tailDropped({ file, port, drops: 3 });
  if (counters.lossProbes !== 1 || counters.timeouts !== 2) throw new Error(`rto-resend: the server counted ${JSON.stringify(counters)}, not one probe and two timeouts`);
  return { file, expect: { description, counters } };
}
