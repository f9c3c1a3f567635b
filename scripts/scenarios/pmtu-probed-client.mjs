// The exchange of pmtu-probed (a path MTU black hole that the server's MTU probing gets round),
// captured on the client's veth: the receiver's view. The answer's first bytes arrive about 6 s
// after the request, already cut to 1,024 bytes, and the segment right behind them starts past the
// bytes the path lost.
import { probedPastBlackHole } from './pmtu-probed.mjs';

export const description =
  'the pmtu-probed exchange captured at the client: the answer arrives about 6 s late in 1,024-byte segments (both ends announced an MSS of 1,460) with a hole right behind its first segment: retransmission, cause path-mtu, and no slow-server';

export default async function pmtuProbedClient({ dir, port }) {
  const result = await probedPastBlackHole({ dir, port, at: 'client', name: 'pmtu-probed-client' });
  return { file: result.file, expect: { description } };
}
