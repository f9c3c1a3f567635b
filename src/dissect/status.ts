// Stable dissector error codes (llhttp's ERROR table, ws's WS_ERR_* codes). Codes are never renamed
// once shipped; the value is the sentence a report prints after the code.

export const HTTP_ERROR = {
  HTTP_INVALID_METHOD: 'method is not a token followed by a space',
  HTTP_INVALID_REQUEST_LINE: 'request line is not "METHOD SP target SP HTTP/x.y"',
  HTTP_INVALID_VERSION: 'HTTP version is not "HTTP/" digit "." digit',
  HTTP_NON_HTTP_RESPONSE: 'response does not start with "HTTP/"',
  HTTP_INVALID_STATUS_LINE: 'status line is not "HTTP/x.y SP 3-digit-status [SP reason]"',
  HTTP_INVALID_HEADER: 'header line has no colon, or a continuation line has nothing to continue',
  HTTP_INVALID_HEADER_TOKEN: 'header name is not a token (whitespace before the colon?)',
  HTTP_INVALID_HEADER_VALUE: 'header value contains a control character',
  HTTP_HEADERS_TOO_LARGE: 'message head exceeds the size limit',
  HTTP_TOO_MANY_HEADERS: 'message has more header lines than the limit',
  HTTP_INVALID_CONTENT_LENGTH: 'Content-Length is not a number, or repeated with different values',
  HTTP_INVALID_TRANSFER_ENCODING: 'request Transfer-Encoding does not end with chunked',
  HTTP_INVALID_CHUNK_SIZE: 'chunk size line is not hex digits [; extensions]',
  HTTP_INVALID_CHUNK_END: 'chunk data is not followed by CRLF',
} as const;
export type HttpErrorCode = keyof typeof HTTP_ERROR;

// Frame errors use the words of RFC 6455 section 5; an endpoint seeing one "MUST _Fail the
// WebSocket Connection_" (close 1002, or 1007 for bad UTF-8).
export const WS_ERROR = {
  WS_UNMASKED_CLIENT_FRAME: 'client frame is not masked (RFC 6455 5.1)',
  WS_MASKED_SERVER_FRAME: 'server frame is masked (RFC 6455 5.1)',
  WS_RSV_WITHOUT_EXTENSION: 'RSV bit set without a negotiated extension that defines it (RFC 6455 5.2)',
  WS_BAD_OPCODE: 'reserved opcode (RFC 6455 5.2)',
  WS_INVALID_LENGTH: '64-bit payload length has its most significant bit set (RFC 6455 5.2)',
  WS_CONTROL_TOO_LONG: 'control frame payload longer than 125 bytes (RFC 6455 5.5)',
  WS_FRAGMENTED_CONTROL: 'control frame without FIN (RFC 6455 5.5)',
  WS_UNEXPECTED_CONTINUATION: 'continuation frame with no message in progress (RFC 6455 5.4)',
  WS_EXPECTED_CONTINUATION: 'new data frame while a fragmented message is in progress (RFC 6455 5.4)',
  WS_INVALID_UTF8: 'text payload or close reason is not valid UTF-8 (RFC 6455 8.1)',
  WS_CLOSE_PAYLOAD_TOO_SHORT: 'close frame payload of 1 byte cannot hold a status code (RFC 6455 5.5.1)',
  WS_INVALID_CLOSE_CODE: 'close status code not allowed on the wire (RFC 6455 7.4)',
  WS_DATA_AFTER_CLOSE: 'frame sent after this side sent its close frame (RFC 6455 5.5.1)',
  WS_INCOMPLETE_FRAME: 'stream ended inside a frame',
  WS_HANDSHAKE_NOT_GET: 'upgrade request method is not GET (RFC 6455 4.1)',
  WS_HANDSHAKE_NO_CONNECTION_UPGRADE: 'Connection header does not contain the "upgrade" token (RFC 6455 4.1)',
  WS_HANDSHAKE_BAD_KEY: 'Sec-WebSocket-Key missing or not 16 bytes in base64 (RFC 6455 4.1)',
  WS_HANDSHAKE_BAD_VERSION: 'Sec-WebSocket-Version is not 13 (RFC 6455 4.1)',
  WS_HANDSHAKE_BAD_UPGRADE_RESPONSE: '101 response lacks "Upgrade: websocket" or "Connection: upgrade" (RFC 6455 4.2.2)',
  WS_HANDSHAKE_MISSING_ACCEPT: '101 response has no Sec-WebSocket-Accept (RFC 6455 4.2.2)',
  WS_HANDSHAKE_BAD_ACCEPT: 'Sec-WebSocket-Accept is not base64(SHA-1(key + GUID)) (RFC 6455 4.2.2)',
  WS_HANDSHAKE_UNOFFERED_PROTOCOL: 'server chose a subprotocol the client did not offer (RFC 6455 4.1)',
  WS_HANDSHAKE_UNOFFERED_EXTENSION: 'server chose an extension the client did not offer (RFC 6455 9.1)',
} as const;
export type WsErrorCode = keyof typeof WS_ERROR;

export type DissectErrorCode = HttpErrorCode | WsErrorCode;

/** Bytes kept from the point of a parse error (undici's HTTPParserError.data). */
export const ERROR_DATA_BYTES = 32;

/** Bytes as printable text: ASCII kept, CR/LF/TAB as \r \n \t, everything else as \xNN. */
export function escapeBytes(b: Uint8Array, off: number, end: number): string {
  let s = '';
  for (let i = off; i < end; i++) {
    const c = b[i];
    if (c === 0x0d) s += '\\r';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  return s;
}

export function hexBytes(b: Uint8Array, off: number, end: number): string {
  let s = '';
  for (let i = off; i < end; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}
