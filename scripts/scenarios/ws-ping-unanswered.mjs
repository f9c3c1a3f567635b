// A `ws` server with a heartbeat pings its client once and gives the pong 1 s; the client (a plain
// socket that did the upgrade by hand) reads the ping and never answers, so the server terminates
// the connection: FIN without a close frame, 1 s after the ping. The client's TCP ACKs the ping.
import { unansweredWsScenario } from '../servers/ws-unanswered.mjs';

const PONG_TIMEOUT_MS = 1_000;

export default unansweredWsScenario({
  name: 'ws-ping-unanswered',
  waitMs: PONG_TIMEOUT_MS,
  ask(ws) {
    let alive = false;
    ws.on('pong', () => (alive = true));
    ws.ping('are-you-there');
    return () => alive;
  },
  description: `ws upgraded (101), server pings, client ACKs the ping and never sends a pong, server terminates (FIN, no close frame) ${PONG_TIMEOUT_MS} ms after the ping, client FIN follows`,
});
