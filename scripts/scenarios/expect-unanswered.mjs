// A node HTTP server with a 'checkContinue' listener that handles the request without calling
// res.writeContinue(), so no "100 Continue" is sent; curl posts 5,000 bytes with
// "Expect: 100-continue", waits its default 1 s for the 100, then sends the body anyway and gets 201.
import { expectContinueScenario } from '../servers/expect-continue.mjs';

export const description =
  'POST with "Expect: 100-continue" and a 5,000-byte body; the server never sends 100 Continue, curl sends the body after its 1 s expect timeout, 201 follows at once';

export default expectContinueScenario({
  name: 'expect-unanswered',
  // Handling the request here without res.writeContinue() is the mistake: node then sends no 100.
  onCheckContinue: (req, res, handle) => handle(req, res),
  description,
});
