// The broken nginx WebSocket config people often post: Upgrade and Connection headers set, but
// no proxy_http_version 1.1, so nginx speaks HTTP/1.0 upstream. The Swoole-like backend answers
// that upgrade with 101 and closes at once; nginx relays the 101 and then the close.
import { runNginxWebSocket, CLIENT_MESSAGE } from '../servers/nginx-ws-proxy.mjs';

const NAME = 'nginx-ws-bad';

export default async function nginxWsBad({ dir, port } = {}) {
  const seen = await runNginxWebSocket({
    name: NAME,
    dir,
    port,
    proxyDirectives: ['proxy_set_header Upgrade $http_upgrade', 'proxy_set_header Connection "upgrade"'],
  });
  const backendUpgrade = seen.backendSaw[0];
  const echoed = seen.clientSaw.messages.some((m) => m.text === CLIENT_MESSAGE);
  if (backendUpgrade?.httpVersion !== '1.0' || backendUpgrade.action !== 'closed-after-101' || echoed) {
    throw new Error(`${NAME}: unexpected outcome ${JSON.stringify(seen)}`);
  }
  return {
    file: seen.file,
    expect: {
      description:
        `client -> nginx :${seen.nginxPort} -> backend :${seen.backendPort}; nginx forwards "GET /ws HTTP/1.0" ` +
        'with Upgrade: websocket and Connection: upgrade, backend answers 101 and sends FIN right after it, ' +
        'nginx relays the 101 to the client and then closes the client connection; no WebSocket message gets through',
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
