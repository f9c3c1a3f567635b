import { describe, expect, it } from 'vitest';
import { MarkStore, NO_MARK, type MarkChain } from '../../src/flow/mark-store.js';
import { analyzeFile } from '../../src/pipeline.js';

const chain = (): MarkChain => ({ marksFirst: NO_MARK, marksLast: NO_MARK, markCount: 0 });
/** Appends a mark of packet `no` (the row first: appending may grow the columns). */
const mark = (store: MarkStore, c: MarkChain, no: number) => {
  const row = store.append(c);
  store.no[row] = no;
};
const rowsOf = (store: MarkStore, c: MarkChain) => {
  const rows: number[] = [];
  for (let row = c.marksFirst; row !== NO_MARK; row = store.next[row]) rows.push(row);
  return rows;
};

describe('the segment marks of a flow table', () => {
  it('chains each flow\'s marks oldest first, and takes the rows a reported flow gave back before new ones', () => {
    const store = new MarkStore();
    const a = chain();
    const b = chain();
    for (let i = 0; i < 3; i++) mark(store, a, 10 + i);
    for (let i = 0; i < 2; i++) mark(store, b, 20 + i);
    expect(rowsOf(store, a).map((r) => store.no[r])).toEqual([10, 11, 12]);
    expect(rowsOf(store, b).map((r) => store.no[r])).toEqual([20, 21]);
    expect(store.live).toBe(5);
    const rowsOfA = rowsOf(store, a);
    store.release(a);
    expect(a).toEqual(chain());
    expect(store.live).toBe(2);
    const c = chain();
    for (let i = 0; i < 4; i++) store.append(c);
    // Three of the four are a's old rows; the fourth is new.
    expect(rowsOf(store, c).filter((r) => rowsOfA.includes(r))).toHaveLength(3);
    expect(store.live).toBe(6);
    store.release(b);
    store.release(c);
    store.release(c);
    expect(store.live).toBe(0);
  });

  it('grows past its first rows without losing a chain', () => {
    const store = new MarkStore();
    const c = chain();
    for (let i = 0; i < 1000; i++) mark(store, c, i);
    expect(rowsOf(store, c).map((r) => store.no[r])).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('gives the marks of a lossy transfer as the flow\'s facts: resends with their RTO and original, duplicate ACKs numbered as tshark numbers them', () => {
    const { flows } = analyzeFile('samples/lossy-transfer.pcap');
    const marks = flows.flatMap((f) => f.analysis.marks);
    const resent = marks.filter((m) => m.kinds.includes('retransmission'));
    expect(resent.length).toBeGreaterThan(0);
    for (const m of resent) {
      expect(m.rtoOf).toBeLessThan(m.no);
      expect(m.rtoMs).toBeGreaterThan(0);
    }
    // Each duplicate ACK with its number, as tshark 4.0 gives them (tcp.analysis.duplicate_ack_num).
    const dupAcks = marks.filter((m) => m.kinds.includes('duplicate-ack')).map((m) => `${m.no}:${m.dupAckNo}`);
    expect(dupAcks.join(' ')).toBe(
      '62:1 125:1 182:1 184:2 208:1 218:1 309:1 311:2 313:3 326:1 336:2 338:1 340:2 372:1 381:1 391:1 401:1 442:1 481:1 540:1 544:1 546:2 566:1 606:1 644:1 708:1 710:2 718:1 767:1 769:2 771:3 780:1 782:1 783:2 824:1 846:1 883:1 891:1',
    );
  });
});
