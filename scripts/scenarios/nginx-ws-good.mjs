// nginx proxying a WebSocket with the documented settings (proxy_http_version 1.1 plus the
// Upgrade and Connection headers): the backend sees an HTTP/1.1 upgrade, keeps the socket open,
// echoes one message and the client closes with 1000.
import { runNginxWebSocket, CLIENT_MESSAGE } from '../servers/nginx-ws-proxy.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'nginx-ws-good';

export default function nginxWsGood(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const seen = await runNginxWebSocket({
    name: NAME,
    dir,
    port,
    sendOnOpen: true,
    proxyDirectives: [
      'proxy_http_version 1.1',
      'proxy_set_header Upgrade $http_upgrade',
      'proxy_set_header Connection "upgrade"',
    ],
  });
  const echoed = seen.clientSaw.messages.some((m) => m.text === CLIENT_MESSAGE);
  const backendUpgrade = seen.backendSaw[0];
  if (seen.clientSaw.code !== 1000 || !echoed || backendUpgrade?.httpVersion !== '1.1' || backendUpgrade.action !== 'websocket') {
    throw new Error(`${NAME}: unexpected outcome ${JSON.stringify(seen)}`);
  }
  return {
    file: seen.file,
    expect: {
      description:
        `client -> nginx :${seen.nginxPort} -> backend :${seen.backendPort}; nginx forwards "GET /ws HTTP/1.1" with ` +
        'Upgrade/Connection: upgrade, both legs get 101, one text message echoed end to end, client close 1000, ' +
        'close frames relayed, FIN on both legs',
      nginxPort: seen.nginxPort,
      backendPort: seen.backendPort,
      wsCloseCode: 1000,
      clientSaw: seen.clientSaw,
      backendSaw: seen.backendSaw,
      nginxErrorLog: seen.nginxErrorLog,
      nginxAccessLog: seen.nginxAccessLog,
    },
  };
}
