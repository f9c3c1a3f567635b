// Every packet captured twice, as on a Docker or Kubernetes node: the server's namespace holds a
// bridge with the veth to the client namespace as its port (docker0 and a container's veth), and
// tcpdump -i any there sees each packet on the veth port and again on the bridge. One request and
// its answer, then FIN both ways; nothing is lost or sent twice on the wire.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;

const ONE_SHOT_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('ready', flush=True)
s.settimeout(10)
c, _ = s.accept()
c.recv(1024)
c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 6\\r\\nConnection: close\\r\\n\\r\\nhello\\n')
c.close()
`;

const CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b'GET / HTTP/1.1\\r\\nHost: app\\r\\nConnection: close\\r\\n\\r\\n')
data = b''
while True:
    chunk = s.recv(1024)
    if not chunk:
        break
    data += chunk
s.close()
print(data.split(b'\\r\\n')[0].decode())
`;

export const description =
  'one HTTP GET answered 200 and closed with FINs, captured with tcpdump -i any on the side with a bridge: every packet appears twice (bridge port, then bridge), same IP ID and headers';

export default async function capturedTwice({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'captured-twice');
  const statusLine = await withNamespacePair({}, async ({ client, server }) => {
    const bridge = `${server.ifname.slice(0, 12)}br`;
    const inServer = (...args) => execInNamespace(server.ns, 'ip', args);
    await inServer('link', 'add', bridge, 'type', 'bridge');
    await inServer('addr', 'del', `${server.addr}/30`, 'dev', server.ifname);
    await inServer('link', 'set', server.ifname, 'master', bridge);
    await inServer('addr', 'add', `${server.addr}/30`, 'dev', bridge);
    await inServer('link', 'set', bridge, 'up');
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', ONE_SHOT_SERVER, server.addr, String(port)], {
      readyPattern: /ready/,
      maxLifetimeMs: 20_000,
    });
    try {
      return await withCapture({ iface: 'any', netns: server.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(client.ns, 'python3', ['-c', CLIENT, server.addr, String(port)], { timeoutMs: 10_000 });
        return stdout.trim();
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (statusLine !== 'HTTP/1.1 200 OK') throw new Error(`captured-twice: the client got ${JSON.stringify(statusLine)}`);
  return { file, expect: { description } };
}
