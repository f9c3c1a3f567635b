// Python servers for the namespace scenarios, run with `python3 -c SCRIPT ADDR PORT SIZE`.

/**
 * A server that listens on ADDR:PORT, prints "ready", accepts one connection, reads a request up to
 * the end of its head, then runs `answer`: Python lines that may use `conn`, `request` and `size`
 * (the third argument, a byte count). `connTimeoutS` bounds each wait on the accepted connection;
 * `listenerSetup`, Python lines run on the listening socket `s` before it binds (socket options);
 * `acceptTimeoutS`, how long it waits for the connection.
 * @param {{ connTimeoutS: number, answer: string, listenerSetup?: string, acceptTimeoutS?: number }} options
 */
export function oneRequestServer({ connTimeoutS, answer, listenerSetup = '', acceptTimeoutS = 10 }) {
  return `
import socket, sys
addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
${listenerSetup.trim()}
s.bind((addr, port))
s.listen(1)
s.settimeout(${acceptTimeoutS})
print('ready', flush=True)
conn, _ = s.accept()
conn.settimeout(${connTimeoutS})
request = b''
while b'\\r\\n\\r\\n' not in request:
    chunk = conn.recv(4096)
    if not chunk:
        break
    request += chunk
${answer.trim()}
`;
}

/**
 * An HTTP/1.1 server on ADDR:PORT (keep-alive, a thread per connection) that prints "ready" and
 * answers every GET with 200 and the body "ok PATH".
 */
export const OK_HTTP_SERVER = `
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        body = b'ok ' + self.path.encode() + b'\\n'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
print('ready', flush=True)
server.serve_forever()
`;
