// A node HTTP server whose 'checkContinue' listener decides for 1.5 s (an authorisation check)
// before it calls res.writeContinue(); curl posts 5,000 bytes with "Expect: 100-continue", waits its
// default 1 s for the 100, sends the body anyway, and the 100 comes half a second later, then 201.
import { expectContinueScenario } from '../servers/expect-continue.mjs';

const DECISION_MS = 1_500;

export const description =
  'POST with "Expect: 100-continue" and a 5,000-byte body; the server sends 100 Continue 1.5 s after the head, curl has sent the body after its 1 s expect timeout, 201 follows';

export default expectContinueScenario({
  name: 'expect-late',
  onCheckContinue(req, res, handle) {
    setTimeout(() => {
      res.writeContinue();
      handle(req, res);
    }, DECISION_MS);
  },
  description,
});
