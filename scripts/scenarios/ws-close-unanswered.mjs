// A `ws` server ends a session with close 1000 "bye" and gives the client 1 s to answer; the client
// (a plain socket that did the upgrade by hand) reads the close frame and never sends its own, so
// the server terminates the connection 1 s after its close frame. The client's TCP ACKs the close.
import { unansweredWsScenario } from '../servers/ws-unanswered.mjs';

const CLOSE_TIMEOUT_MS = 1_000;

export default unansweredWsScenario({
  name: 'ws-close-unanswered',
  waitMs: CLOSE_TIMEOUT_MS,
  ask(ws) {
    ws.close(1000, 'bye');
    return () => ws.readyState === ws.CLOSED;
  },
  description: `ws upgraded (101), server sends close 1000 "bye", client ACKs it and never answers with a close frame, server terminates (FIN) ${CLOSE_TIMEOUT_MS} ms after its close, client FIN follows`,
});
