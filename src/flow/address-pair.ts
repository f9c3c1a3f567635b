import { addrEquals } from '../decode/addr.js';

/**
 * Two endpoint addresses in the 4-word form, kept as eight small-integer fields (each word | 0)
 * rather than as two typed arrays, which cost an object and a buffer object each: the base of a
 * flow (A the originator, B the responder) and of a Wireshark-style conversation.
 */
export class AddressPair {
  protected a0 = 0;
  protected a1 = 0;
  protected a2 = 0;
  protected a3 = 0;
  protected b0 = 0;
  protected b1 = 0;
  protected b2 = 0;
  protected b3 = 0;

  /** Sets address A and address B. */
  setAddrs(a: Uint32Array, b: Uint32Array): void {
    this.a0 = a[0] | 0;
    this.a1 = a[1] | 0;
    this.a2 = a[2] | 0;
    this.a3 = a[3] | 0;
    this.b0 = b[0] | 0;
    this.b1 = b[1] | 0;
    this.b2 = b[2] | 0;
    this.b3 = b[3] | 0;
  }

  /** Address A becomes B and B becomes A. */
  protected swapAddrs(): void {
    [this.a0, this.a1, this.a2, this.a3, this.b0, this.b1, this.b2, this.b3] = [this.b0, this.b1, this.b2, this.b3, this.a0, this.a1, this.a2, this.a3];
  }

  protected isAddrA(addr: Uint32Array): boolean {
    return addrEquals(addr, this.a0, this.a1, this.a2, this.a3);
  }

  protected isAddrB(addr: Uint32Array): boolean {
    return addrEquals(addr, this.b0, this.b1, this.b2, this.b3);
  }

  /** Address A written into `out` (4 words), for the few places that format it. */
  protected addrAInto(out: Uint32Array): Uint32Array {
    out[0] = this.a0;
    out[1] = this.a1;
    out[2] = this.a2;
    out[3] = this.a3;
    return out;
  }

  protected addrBInto(out: Uint32Array): Uint32Array {
    out[0] = this.b0;
    out[1] = this.b1;
    out[2] = this.b2;
    out[3] = this.b3;
    return out;
  }

  /**
   * Whether the eight words from words[at] (as copyAddrsTo writes them) are address A then B, or,
   * with `swapped`, B then A.
   */
  hasAddrsAt(words: Int32Array, at: number, swapped: boolean): boolean {
    const a = swapped ? at + 4 : at;
    const b = swapped ? at : at + 4;
    return (
      words[a] === this.a0 && words[a + 1] === this.a1 && words[a + 2] === this.a2 && words[a + 3] === this.a3 &&
      words[b] === this.b0 && words[b + 1] === this.b1 && words[b + 2] === this.b2 && words[b + 3] === this.b3
    );
  }

  /** Both addresses as eight words (A then B) from out[at], for tables that keep them by value. */
  copyAddrsTo(out: Int32Array, at: number): void {
    out[at] = this.a0;
    out[at + 1] = this.a1;
    out[at + 2] = this.a2;
    out[at + 3] = this.a3;
    out[at + 4] = this.b0;
    out[at + 5] = this.b1;
    out[at + 6] = this.b2;
    out[at + 7] = this.b3;
  }
}
