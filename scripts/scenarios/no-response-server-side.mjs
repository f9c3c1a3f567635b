// A server that reads the request and never answers, captured on the client's veth inbound only
// (tcpdump -Q in): the file holds the server's packets alone. Its SYN-ACK, its ACK of the request,
// and 3 s later its ACK of the client's FIN, every one with the sequence number its SYN-ACK left it.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const CLIENT_PATIENCE_S = 3;

// Reads the request, then holds the connection without a word until killed.
const SILENT_SERVER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('ready', flush=True)
s.settimeout(10)
c, _ = s.accept()
c.recv(1024)
time.sleep(20)
`;

// Sends a GET, waits for an answer, and closes when none comes.
const CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b'GET / HTTP/1.1\\r\\nHost: app\\r\\n\\r\\n')
s.settimeout(float(sys.argv[3]))
try:
    print(len(s.recv(1024)))
except socket.timeout:
    print('timeout')
s.close()
`;

export const description =
  'captured inbound at the client only (tcpdump -Q in): the server ACKs the GET, sends no byte, and 3 s later ACKs the client FIN, its sequence number never past its SYN-ACK: no response, told by the server packets alone';

export default async function noResponseServerSide({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'no-response-server-side');
  const outcome = await withNamespacePair({}, async ({ client, server }) => {
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', SILENT_SERVER, server.addr, String(port)], {
      readyPattern: /ready/,
      maxLifetimeMs: 30_000,
    });
    try {
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${port}`, direction: 'in', file }, async () => {
        const { stdout } = await execInNamespace(client.ns, 'python3', ['-c', CLIENT, server.addr, String(port), String(CLIENT_PATIENCE_S)], { timeoutMs: 15_000 });
        return stdout.trim();
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (outcome !== 'timeout') throw new Error(`no-response-server-side: expected the client to time out, got ${outcome}`);
  return { file, expect: { description } };
}
