// Endian-aware integer reads straight from the byte array: no DataView per chunk, no subarray.

export function u16le(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8);
}
export function u16be(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}
export function u32le(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}
export function u32be(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}
export function u16(b: Uint8Array, p: number, le: boolean): number {
  return le ? u16le(b, p) : u16be(b, p);
}
export function u32(b: Uint8Array, p: number, le: boolean): number {
  return le ? u32le(b, p) : u32be(b, p);
}
/** Signed 64-bit integer as a number (exact up to 2^53). */
export function i64(b: Uint8Array, p: number, le: boolean): number {
  const hi = le ? u32le(b, p + 4) | 0 : u32be(b, p) | 0;
  const lo = le ? u32le(b, p) : u32be(b, p + 4);
  return hi * 4294967296 + lo;
}
/** Unsigned 64-bit integer as a number (exact up to 2^53). */
export function u64(b: Uint8Array, p: number, le: boolean): number {
  return le ? u32le(b, p + 4) * 4294967296 + u32le(b, p) : u32be(b, p) * 4294967296 + u32be(b, p + 4);
}
export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}
