import { conv, type Conversation } from './conversation.js';
import { concat } from './packets.js';
import { toPcap, writeTempCapture } from './capture.js';

// A capture whose bytes carry HTML and script: what a report must print as text, never as markup.
// Flow 1 is a WebSocket session with a hostile request target, Host header and close reason; flow 2
// an upgrade answered by a 101 from a hostile Server header and a FIN (an error the report draws);
// flow 3 a TLS ClientHello with a hostile SNI that the server answers with its FIN.

export const HOSTILE = {
  target: '/<script>alert(1)</script>?q="x"&y=\'z\'',
  host: '<img src=x onerror=alert(2)>',
  server: '</text><script>alert(3)</script><svg onload=alert(4)>',
  reason: '</title><script>alert(5)</script>',
  sni: '<script>alert(6)</script>.example',
} as const;

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function upgradeRequest(): string {
  return `GET ${HOSTILE.target} HTTP/1.1\r\nHost: ${HOSTILE.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: <b>bold</b>\r\n\r\n`;
}

function switching(server: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\nServer: ${server}\r\n\r\n`;
}

/** A close frame with status 1000 and `reason`; masked when sent by the client. */
function closeFrame(reason: string, masked: boolean): Uint8Array {
  const payload = concat([0x03, 0xe8], [...Buffer.from(reason)]);
  if (!masked) return concat([0x88, payload.length], payload);
  const mask = [0x11, 0x22, 0x33, 0x44];
  return concat([0x88, 0x80 | payload.length], mask, [...payload].map((b, i) => b ^ mask[i % 4]));
}

function sessionFlow(): Conversation {
  return conv({ client: '10.0.0.1:51000', server: '10.0.0.2:8080' })
    .handshake(0)
    .client('PA', 0.01, upgradeRequest())
    .server('PA', 0.02, switching('demo'))
    .client('PA', 0.03, closeFrame(HOSTILE.reason, true))
    .server('PA', 0.031, closeFrame(HOSTILE.reason, false))
    .server('FA', 0.032)
    .client('FA', 0.033)
    .server('A', 0.034);
}

function closedAfter101Flow(): Conversation {
  return conv({ client: '10.0.0.1:51001', server: '10.0.0.2:8080' })
    .handshake(1)
    .client('PA', 1.01, upgradeRequest())
    .server('PA', 1.02, switching(HOSTILE.server))
    .server('FA', 1.0201)
    .client('FA', 1.03)
    .server('A', 1.031);
}

/** A TLS 1.2 ClientHello offering one cipher suite, with `sni` as its server name. */
function clientHello(sni: string): Uint8Array {
  const name = [...Buffer.from(sni, 'latin1')];
  const u16 = (n: number) => [n >> 8, n & 0xff];
  const serverName = [0x00, ...u16(name.length), ...name];
  const sniExt = [...u16(0), ...u16(serverName.length + 2), ...u16(serverName.length), ...serverName];
  const body = [0x03, 0x03, ...new Array(32).fill(7), 0x00, ...u16(2), 0xc0, 0x2f, 0x01, 0x00, ...u16(sniExt.length), ...sniExt];
  const handshake = [0x01, 0x00, ...u16(body.length), ...body];
  return concat([0x16, 0x03, 0x01, ...u16(handshake.length)], handshake);
}

function tlsFlow(): Conversation {
  return conv({ client: '10.0.0.1:51002', server: '10.0.0.3:443' })
    .handshake(2)
    .client('PA', 2.01, clientHello(HOSTILE.sni))
    .server('A', 2.011)
    .server('FA', 2.02)
    .client('FA', 2.021)
    .server('A', 2.022);
}

/** Writes the hostile capture to a temp file and returns its path. */
export function writeHostileCapture(): string {
  const t0 = 1_700_000_000_000_000;
  const packets = [...sessionFlow().packets, ...closedAfter101Flow().packets, ...tlsFlow().packets].sort((a, b) => a.t - b.t);
  return writeTempCapture(toPcap(packets.map((p) => ({ tsMicros: t0 + Math.round(p.t * 1e6), data: p.frame.bytes }))), 'hostile.pcap');
}
