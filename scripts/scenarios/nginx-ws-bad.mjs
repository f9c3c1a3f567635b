// The broken nginx WebSocket config people often post: Upgrade and Connection headers set, but
// no proxy_http_version 1.1, so nginx speaks HTTP/1.0 upstream. The Swoole-like backend answers
// that upgrade with 101 and closes at once; nginx relays the 101 and then the close.
//
// The client waits for the server to speak first. A client that sends a frame right after the 101
// races nginx's close: when the frame arrives before nginx closes, nginx closes with unread data
// and the kernel sends RST instead of FIN; when it arrives after, it is answered by RST.
import { runNginxWebSocket } from '../servers/nginx-ws-proxy.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'nginx-ws-bad';

export default function nginxWsBad(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const seen = await runNginxWebSocket({
    name: NAME,
    dir,
    port,
    sendOnOpen: false,
    proxyDirectives: ['proxy_set_header Upgrade $http_upgrade', 'proxy_set_header Connection "upgrade"'],
  });
  const backendUpgrade = seen.backendSaw[0];
  const { opened, code, messages } = seen.clientSaw;
  if (backendUpgrade?.httpVersion !== '1.0' || backendUpgrade.action !== 'closed-after-101' || !opened || code !== 1006 || messages.length > 0) {
    throw new Error(`${NAME}: unexpected outcome ${JSON.stringify(seen)}`);
  }
  return {
    file: seen.file,
    expect: {
      description:
        `client -> nginx :${seen.nginxPort} -> backend :${seen.backendPort}; nginx forwards "GET /ws HTTP/1.0" ` +
        'with Upgrade: websocket and Connection: upgrade, backend answers 101 and sends FIN right after it, ' +
        'nginx relays the 101 to the client and sends FIN right after it; the ws client opens, then sees the ' +
        'connection end without a close frame (1006) and FINs back',
      nginxPort: seen.nginxPort,
      backendPort: seen.backendPort,
      upstreamRequestHttpVersion: '1.0',
      clientSaw: seen.clientSaw,
      backendSaw: seen.backendSaw,
      nginxErrorLog: seen.nginxErrorLog,
      nginxAccessLog: seen.nginxAccessLog,
    },
  };
}
