// A `ws` server that asks its client something (a ping, a close frame) and gives it `waitMs` to
// answer; the client is a plain socket that did the upgrade by hand and never answers, so the
// server terminates the connection once the wait is over. The scenarios of the unanswered
// WebSocket verdicts differ only in what the server asks and how it knows an answer came.
import path from 'node:path';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { rawUpgrade } from './clients.mjs';
import { LOOPBACK, withDeadline } from './net-helpers.mjs';
import { withCompleteCapture } from './capture-check.mjs';

const DEADLINE_MS = 5_000;

/**
 * `ask(ws)` sends the question and returns a function that tells whether it was answered;
 * `description` names what the capture shows.
 */
export function unansweredWsScenario({ name, waitMs, ask, description }) {
  return (options = {}) => withCompleteCapture(name, () => runOnce(name, waitMs, ask, description, options));
}

async function runOnce(name, waitMs, ask, description, { dir, port }) {
  const serverPort = port ?? (await pickFreePort());
  const file = path.join(dir, `${name}.pcap`);
  const wss = new WebSocketServer({ host: LOOPBACK, port: serverPort });
  await once(wss, 'listening');
  let terminated = false;
  wss.on('connection', (ws) => {
    const answered = ask(ws);
    setTimeout(() => {
      if (answered()) return;
      terminated = true;
      ws.terminate();
    }, waitMs);
  });
  try {
    const outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withDeadline(rawUpgrade({ port: serverPort, path: '/feed', httpVersion: '1.1', waitForCloseMs: waitMs + 2_000 }), DEADLINE_MS, name),
    );
    if (!outcome.statusLine.includes(' 101 ') || !terminated || outcome.serverEndedAfterMs === null) {
      throw new Error(`${name}: unexpected outcome ${JSON.stringify({ ...outcome, terminated })}`);
    }
    return { file, expect: { description, serverEndedAfterMs: Math.round(outcome.serverEndedAfterMs) } };
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
}
