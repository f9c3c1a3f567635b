// TLS records byte for byte, for scripted connections: a ClientHello, a ServerHello (TLS 1.2, or
// 1.3 by its supported_versions extension), a ChangeCipherSpec, and opaque encrypted records
// (application data, or an alert as TLS 1.2 sends one encrypted: type 21, 26 bytes with AES-GCM).
import { concat } from './packets.js';

const RECORD = { CHANGE_CIPHER_SPEC: 20, ALERT: 21, HANDSHAKE: 22, APPLICATION_DATA: 23 } as const;

export function tlsRecord(type: number, body: number[], version: [number, number] = [3, 3]): Uint8Array {
  return Uint8Array.from([type, ...version, body.length >> 8, body.length & 0xff, ...body]);
}

function handshake(type: number, body: number[]): number[] {
  return [type, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff, ...body];
}

const RANDOM = Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff);

/** A ClientHello offering TLS_AES_128_GCM_SHA256, no extensions. */
export function clientHello(): Uint8Array {
  return tlsRecord(RECORD.HANDSHAKE, handshake(1, [3, 3, ...RANDOM, 0, 0, 2, 0x13, 0x01, 1, 0]), [3, 1]);
}

/** A ServerHello choosing TLS 1.2, or TLS 1.3 (supported_versions 0x0304). */
export function serverHello(tls13: boolean): Uint8Array {
  const extensions = tls13 ? [0, 6, 0, 0x2b, 0, 2, 3, 4] : [];
  return tlsRecord(RECORD.HANDSHAKE, handshake(2, [3, 3, ...RANDOM, 0, 0x13, 0x01, 0, ...extensions]));
}

export const changeCipherSpec = () => tlsRecord(RECORD.CHANGE_CIPHER_SPEC, [1]);
/** An encrypted record of `length` bytes (in TLS 1.3, 19 is an alert's size). */
export const encrypted = (length: number) => tlsRecord(RECORD.APPLICATION_DATA, new Array(length).fill(0xaa));
/** A TLS 1.2 alert sent encrypted. */
export const encryptedAlert = () => tlsRecord(RECORD.ALERT, new Array(26).fill(0xbb));
export { concat };
