// A ten-segment response whose last two segments are lost once on the way to the client: Linux
// sends the last again as a tail-loss probe a few milliseconds later, and the client's SACK of it
// has the one before resent at once: both long before any retransmission timer.
import { tailDropped } from '../lib/tail-drop.mjs';
import { captureFile } from '../lib/scenario.mjs';

export const description =
  'ten-segment response between namespaces, its last two segments dropped once by the client namespace: the server resends the last a few ms later as a tail-loss probe, then the one before on the SACK that answers it; no timeout';

export default async function tailLossProbe({ dir, port = 8080 }) {
  const file = captureFile(dir, 'tail-loss-probe');
  const counters = await tailDropped({ file, port, drops: 1, beforeTail: true });
  if (counters.lossProbes !== 1 || counters.timeouts !== 0) throw new Error(`tail-loss-probe: the server counted ${JSON.stringify(counters)}, not one probe and no timeout`);
  return { file, expect: { description, counters } };
}
