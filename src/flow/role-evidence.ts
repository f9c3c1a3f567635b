// What a side's first payload proves about its role in a connection the capture joined after the
// handshake: an HTTP/1 request line or a TLS ClientHello is a client's, an HTTP/1 status line or a
// TLS ServerHello a server's. Anything else (a body cut mid-way, an unknown protocol) proves
// nothing, and the roles stay the flow table's guess.

/** The role a payload proves: the client (the originator, 0), the server (1), or none. */
export const PROVEN_ROLE = { NONE: -1, CLIENT: 0, SERVER: 1 } as const;
export type ProvenRole = (typeof PROVEN_ROLE)[keyof typeof PROVEN_ROLE];

/** How far into the payload a request line's ` HTTP/1.` is looked for: past it, a target this long proves little. */
const REQUEST_LINE_SEARCH_BYTES = 2048;
/** The longest method token taken for one (the longest registered methods are about 17 bytes). */
const MAX_METHOD_BYTES = 20;

const SP = 0x20;
const HTTP_1_DOT = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."
const TLS_HANDSHAKE = 22;
const TLS_CLIENT_HELLO = 1;
const TLS_SERVER_HELLO = 2;

/** The role proven by the payload at `off`..`end` of `b` (the captured bytes of a side's first data segment). */
export function roleShownByPayload(b: Uint8Array, off: number, end: number): ProvenRole {
  if (isTlsHello(b, off, end, TLS_CLIENT_HELLO)) return PROVEN_ROLE.CLIENT;
  if (isTlsHello(b, off, end, TLS_SERVER_HELLO)) return PROVEN_ROLE.SERVER;
  if (isStatusLine(b, off, end)) return PROVEN_ROLE.SERVER;
  if (isRequestLine(b, off, end)) return PROVEN_ROLE.CLIENT;
  return PROVEN_ROLE.NONE;
}

/** A TLS handshake record (type 22, version 3.x) whose first message is of type `helloType`. */
function isTlsHello(b: Uint8Array, off: number, end: number, helloType: number): boolean {
  return end - off >= 6 && b[off] === TLS_HANDSHAKE && b[off + 1] === 3 && b[off + 2] <= 4 && b[off + 5] === helloType;
}

/** `HTTP/1.x NNN `: a status line's version, code and the space after it. */
function isStatusLine(b: Uint8Array, off: number, end: number): boolean {
  if (end - off < 13 || !matches(b, off, HTTP_1_DOT) || !isDigit(b[off + 7]) || b[off + 8] !== SP) return false;
  return isDigit(b[off + 9]) && isDigit(b[off + 10]) && isDigit(b[off + 11]) && b[off + 12] === SP;
}

/** A method token (upper-case letters and '-'), a space, a target without spaces or controls, ` HTTP/1.`. */
function isRequestLine(b: Uint8Array, off: number, end: number): boolean {
  let i = off;
  while (i < end && i - off < MAX_METHOD_BYTES && isMethodByte(b[i])) i++;
  if (i === off || i >= end || b[i] !== SP) return false;
  const targetStart = ++i;
  const limit = Math.min(end, off + REQUEST_LINE_SEARCH_BYTES);
  while (i < limit && b[i] > SP && b[i] < 0x7f) i++;
  return i > targetStart && i + 1 + HTTP_1_DOT.length <= end && b[i] === SP && matches(b, i + 1, HTTP_1_DOT);
}

function matches(b: Uint8Array, at: number, text: readonly number[]): boolean {
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text[i]) return false;
  return true;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isMethodByte = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || c === 0x2d;
