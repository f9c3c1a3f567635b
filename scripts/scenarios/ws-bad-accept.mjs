// A server that answers 101 with a wrong Sec-WebSocket-Accept: it hashes the key without the
// RFC 6455 GUID, a classic hand-rolled-handshake bug. The client must refuse the upgrade.
import path from 'node:path';
import { createHash } from 'node:crypto';
import { WebSocket } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runWebSocketClient } from '../servers/clients.mjs';
import { startRawResponder } from '../servers/raw-responder.mjs';
import { LOOPBACK, webSocketAccept, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-bad-accept';
const DEADLINE_MS = 5_000;

function acceptWithoutGuid(key) {
  return createHash('sha1').update(key).digest('base64');
}

export default function wsBadAccept(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const responder = await startRawResponder({
    respond: ({ headers }) =>
      'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptWithoutGuid(headers['sec-websocket-key'] ?? '')}\r\n\r\n`,
    endAfterResponse: false,
    port: port ?? (await pickFreePort()),
  });
  const file = path.join(dir, `${NAME}.pcap`);
  try {
    const outcome = await withCapture({ filter: `tcp port ${responder.port}`, file }, () =>
      withDeadline(runWebSocketClient(new WebSocket(`ws://${LOOPBACK}:${responder.port}/feed`)), DEADLINE_MS, NAME),
    );
    const key = responder.requests[0]?.headers['sec-websocket-key'];
    if (outcome.opened || !/Sec-WebSocket-Accept/i.test(outcome.error ?? '') || !key) {
      throw new Error(`${NAME}: unexpected client outcome ${JSON.stringify(outcome)}`);
    }
    return {
      file,
      expect: {
        description:
          '101 Switching Protocols whose Sec-WebSocket-Accept is base64(SHA-1(key)) without the RFC 6455 GUID; ' +
          'the ws client rejects it ("Invalid Sec-WebSocket-Accept header") and closes first (client FIN), server FIN follows',
        secWebSocketKey: key,
        sentAccept: acceptWithoutGuid(key),
        correctAccept: webSocketAccept(key),
        clientSaw: outcome,
      },
    };
  } finally {
    await responder.close();
  }
}
