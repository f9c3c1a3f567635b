// Zeek's connection history letters: upper case for the originator, lower case for the responder.
// s SYN, h SYN+ACK, a pure ACK, d data, f FIN, r RST, c bad checksum, g content gap,
// t retransmitted payload, w zero window, i FIN+RST, q other multi-flag packet, ^ roles flipped,
// x partial analysis (a limit was hit).
// a d i q appear once per direction; s h f r again only on a new sequence number; c g t w at
// counts 1, 10, 100, ... (Zeek's ScaledHistoryEntry).

export const HIST = {
  SYN: 0x1,
  FIN: 0x2,
  RST: 0x4,
  FIN_RST: 0x8,
  DATA: 0x10,
  ACK: 0x20,
  MULTI_FLAG: 0x40,
  PARTIAL: 0x80,
} as const;

export class History {
  text = '';
  private seen = 0;

  /** A new flow took the slot the history is kept with. */
  clear(): void {
    this.text = '';
    this.seen = 0;
  }

  /** The once-per-direction letters recorded, as restore() takes them back. */
  get seenLetters(): number {
    return this.seen;
  }

  /** The slot takes a parked flow: its history as it was. */
  restore(text: string, seen: number): void {
    this.text = text;
    this.seen = seen;
  }

  /** Records a once-per-direction letter; returns true if it had been recorded before. */
  check(mask: number, isOrig: boolean, code: string): boolean {
    const bit = isOrig ? mask : mask << 16;
    if ((this.seen & bit) === 0) {
      this.seen |= bit;
      this.add(code, isOrig);
      return false;
    }
    return true;
  }

  add(code: string, isOrig: boolean): void {
    if (this.text.length >= 1024) return; // bounded, like everything that grows with input
    this.text += isOrig ? code : code.toLowerCase();
  }

  addRaw(code: string): void {
    if (this.text.length < 1024) this.text += code;
  }

  /** Zeek's ScaledHistoryEntry: returns the new threshold after counting one more event. */
  scaled(code: string, isOrig: boolean, count: number, thresh: number): number {
    if (count === thresh) {
      this.add(code, isOrig);
      return thresh * 10;
    }
    return thresh;
  }

  /** Swap the roles of the recorded letters' seen-bits (Zeek's FlipRoles keeps the text and adds '^'). */
  flip(): void {
    this.seen = ((this.seen & 0xffff) << 16) | (this.seen >>> 16);
    this.addRaw('^');
  }
}
