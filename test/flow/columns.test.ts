// Open flows keep their numbers in rows of one buffer (src/flow/columns.ts): a row must keep what
// is written to it while the buffer grows, and a finished flow's row must come back to the next
// flow as a new flow's, whatever the finished one left in it.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { Columns, defineRareColumns, RareRow } from '../../src/flow/columns.js';
import { ANALYSIS_COUNTS, SEG_NAMES } from '../../src/flow/analysis.js';
import { ENDPOINT_RARE_NAMES } from '../../src/flow/endpoint.js';
import { FlowRows } from '../../src/flow/flow.js';
import { FLOW_RARE_NAMES, SIDE_RARE_NAMES } from '../../src/flow/timing.js';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';

describe('Columns', () => {
  it('keeps every row through growth and hands a released row back filled with the initial numbers', () => {
    const c = new Columns(3, 2); // 3 numbers a row, 2 rows a chunk
    const initial = Float64Array.of(-1, 0, 0.5);
    const row = (slot: number) => Array.from(c.chunkOf(slot).subarray(c.rowAt(slot), c.rowAt(slot) + 3));
    const slots = Array.from({ length: 9 }, () => c.take(initial));
    expect(slots).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    slots.forEach((s) => (c.chunkOf(s)[c.rowAt(s) + 1] = 1_700_000_000_123_456 + s));
    slots.forEach((s) => expect(row(s)).toEqual([-1, 1_700_000_000_123_456 + s, 0.5]));
    c.release(4);
    c.release(7);
    expect(c.live).toBe(7);
    expect(c.take(initial)).toBe(7);
    expect(c.take(initial)).toBe(4);
    expect(row(4)).toEqual([-1, 0, 0.5]);
    expect(row(7)).toEqual([-1, 0, 0.5]);
    expect(row(5)).toEqual([-1, 1_700_000_000_123_456 + 5, 0.5]);
    expect(c.take(initial)).toBe(9);
  });
});

/** Two views sharing a slot's rare row, as a flow's two endpoints do. */
class RareProbe {
  declare count: number;
  declare seen: boolean;
  declare firstNo: number;
  constructor(
    readonly rare: RareRow,
    readonly rareAt: number,
  ) {}
}
const PROBE_FIELDS = defineRareColumns(RareProbe.prototype, { count: 0, seen: false, firstNo: -1 });

describe('a rare row', () => {
  function slot() {
    const store = new Columns(2 * PROBE_FIELDS, 2);
    const rare = new RareRow(store, Float64Array.of(0, 0, -1, 0, 0, -1));
    return { store, rare, a: new RareProbe(rare, 0), b: new RareProbe(rare, PROBE_FIELDS) };
  }
  const fields = (p: RareProbe) => [p.count, p.seen, p.firstNo];

  it('reads the initial values until a write changes one, and is taken only then', () => {
    const { store, rare, a, b } = slot();
    expect(fields(a)).toEqual([0, false, -1]);
    a.count = 0;
    a.seen = false;
    b.firstNo = -1;
    expect(rare.n).toBeNull();
    expect(store.live).toBe(0);
    b.firstNo = 17;
    expect(store.live).toBe(1);
    expect(fields(a)).toEqual([0, false, -1]);
    expect(fields(b)).toEqual([0, false, 17]);
    a.seen = true;
    a.count = 2.5;
    expect(fields(a)).toEqual([2.5, true, -1]);
    expect(store.live).toBe(1);
  });

  it('is given back on release, and the next flow of the slot starts from the initial values', () => {
    const { store, rare, a, b } = slot();
    const other = new RareRow(store, Float64Array.of(0, 0, -1, 0, 0, -1));
    const c = new RareProbe(other, 0);
    a.count = 3;
    c.count = 4;
    rare.release();
    expect(store.live).toBe(1);
    expect(fields(a)).toEqual([0, false, -1]);
    b.seen = true;
    expect(fields(b)).toEqual([0, true, -1]);
    expect(fields(a)).toEqual([0, false, -1]);
    expect(c.count).toBe(4);
    rare.release();
    rare.release();
    expect(store.live).toBe(1);
  });
});

const GET = 'GET /file HTTP/1.1\r\nHost: a\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody';

/** A clean exchange on client port `port` from `t` (s), closed by the server. */
function clean(port: number, t: number): Conversation {
  return conv({ client: `10.0.0.1:${port}`, server: '10.0.0.2:80' })
    .handshake(t)
    .client('PA', t + 0.002, GET)
    .server('PA', t + 0.003, OK)
    .client('A', t + 0.004)
    .server('FA', t + 0.005)
    .client('FA', t + 0.006)
    .server('A', t + 0.007);
}

/** A flow that fills its row: a retransmitted response, a zero window from the client, a client RST. */
function troubled(port: number): Conversation {
  const c = conv({ client: `10.0.0.1:${port}`, server: '10.0.0.2:80' }).handshake(0).client('PA', 0.002, GET);
  const responseSeq = c.s.next;
  return c
    .server('PA', 0.003, OK)
    .server('PA', 0.25, OK, { seq: responseSeq })
    .client('A', 0.251, '', { window: 0 })
    .client('R', 0.4);
}

describe('a flow in a recycled row', () => {
  it('starts as a new flow: nothing of the finished flow that had the row before it shows', () => {
    const first = troubled(40001);
    // 10 s later its linger is long over: the next flow's first packet finishes it, then takes its row.
    const both = analyzeFrames([...first.packets, ...clean(40002, 10).packets]);
    // The same flow after as many packets of a flow that stays open: it gets a row never used.
    const filler = conv({ client: '10.0.0.3:40001', server: '10.0.0.2:80' }).handshake(0).client('PA', 0.002, GET).server('PA', 0.003, OK);
    filler.client('A', 0.004).client('A', 0.005).client('A', 0.006);
    expect(filler.packets).toHaveLength(first.packets.length);
    const fresh = analyzeFrames([...filler.packets, ...clean(40002, 10).packets]);
    const [old, reused] = both.flows;
    expect(old.analysis!.retransmission).toBe(1);
    expect(old.serverSide.state).toBe('ESTABLISHED');
    expect(old.clientSide.rst).not.toBeNull();
    const { id: _, ...recycled } = reused;
    const { id: __, ...unused } = fresh.flows.find((f) => f.clientPort === 40002)!;
    expect(recycled).toEqual(unused);
    expect(reused.analysis!.retransmission).toBe(0);
  });
});

describe('a conversation in a recycled row', () => {
  /** A connection open all along: a request and its ACK, seconds later the response and a needless resend of the request, then the close. */
  function longLived(responseAt: number): Conversation {
    const c = conv({ client: '10.0.0.9:40000', server: '10.0.0.2:80' }).handshake(0).client('PA', 0.002, GET);
    const requestSeq = c.c.next - GET.length;
    return c
      .server('A', 0.003)
      .server('PA', responseAt, OK)
      .client('PA', responseAt + 0.1, GET, { seq: requestSeq })
      .client('A', responseAt + 0.2)
      .client('FA', responseAt + 0.3)
      .server('FA', responseAt + 0.301)
      .client('A', responseAt + 0.302);
  }
  const kindsOf = (r: ReturnType<typeof analyzeFrames>) => {
    const a = r.flows.find((f) => f.clientPort === 40000)!.analysis!;
    return { marks: a.marks.map((m) => `${m.from} ${m.kinds.join(',')}`), retransmission: a.retransmission, spurious: a.spuriousRetransmission, lost: a.lostSegment, ackLost: a.ackLostSegment, outOfOrder: a.outOfOrder, dupAcks: a.duplicateAck };
  };

  it('keeps an open flow sequence state while 22,000 refused conversations take rows around it', () => {
    // The registry forgets the long flow's conversation after 20,000 newer ones, but the flow still
    // uses it: its row must not go to a later conversation. From the 20,001st on, each new
    // conversation makes the registry forget a refused one, whose row it takes (a few lingering
    // flows at most, so the refused flows are finished and let go of their conversations).
    const crowd = Array.from({ length: 22_000 }, (_, i) =>
      conv({ client: `10.20.${i >> 8}.${i & 255}:43000` })
        .client('S', 1 + i / 1e4)
        .server('RA', 1 + i / 1e4 + 0.00005),
    );
    const alone = analyzeFrames(longLived(6).packets, { maxLingeringFlows: 16 });
    const together = analyzeFrames([...longLived(6).packets, ...crowd.flatMap((c) => c.packets)].sort((a, b) => a.t - b.t), { maxLingeringFlows: 16 });
    expect(together.flows).toHaveLength(22_001);
    expect(kindsOf(alone)).toEqual({ marks: ['client spurious-retransmission', 'client duplicate-ack'], retransmission: 1, spurious: 1, lost: 0, ackLost: 0, outOfOrder: 0, dupAcks: 1 });
    expect(kindsOf(together)).toEqual(kindsOf(alone));
  });
});

describe('a reused flow object', () => {
  it('starts as a new Flow: every field the finished flow left is set back', () => {
    const rows = new FlowRows();
    const finished = rows.newFlow(1);
    const own = finished as unknown as Record<string, unknown>;
    // Everything a flow may have set by its end, to values no new flow has.
    for (const key of Object.keys(own)) {
      if (key === 'id' || key === 'slot') continue;
      const v = own[key];
      if (typeof v === 'number') own[key] = v + 7;
      else if (typeof v === 'boolean') own[key] = !v;
      else if (v === null) own[key] = {};
    }
    finished.history.add('S', true);
    finished.icmpErrors = [];
    rows.release(finished);
    rows.free(finished);
    const reused = rows.newFlow(2);
    expect(reused).toBe(finished);
    const fresh = new FlowRows().newFlow(2) as unknown as Record<string, unknown>;
    const plain = (f: Record<string, unknown>) => Object.fromEntries(Object.entries(f).filter(([, v]) => typeof v !== 'object' || v === null));
    expect(plain(reused as unknown as Record<string, unknown>)).toEqual(plain(fresh));
    expect(reused.icmpErrors).toBe(fresh.icmpErrors);
    expect(reused.history.text).toBe('');
  });
});

describe("a flow's rare numbers", () => {
  afterEach(() => vi.restoreAllMocks());

  it('are in no rare row for clean exchanges; a reset, a resend and a zero window take one, given back once the flow is reported', () => {
    const take = vi.spyOn(RareRow.prototype, 'take');
    const release = vi.spyOn(RareRow.prototype, 'release');
    const cleanRun = analyzeFrames([0, 1, 2, 3, 4].flatMap((i) => clean(40010 + i, i * 0.01).packets).sort((a, b) => a.t - b.t));
    expect(cleanRun.flows).toHaveLength(5);
    expect(take).not.toHaveBeenCalled();
    const [f] = analyzeFrames(troubled(40001).packets).flows;
    expect(take).toHaveBeenCalled();
    expect(f.analysis!.retransmission).toBe(1);
    expect(f.clientSide.rst).not.toBeNull();
    expect(f.analysis!.zeroWindow).toBe(1);
    // Every row taken went back, each by a release of its own slot's row.
    const taken = take.mock.contexts;
    expect(taken.every((row) => (row as RareRow).n === null)).toBe(true);
    expect(release.mock.contexts).toEqual(expect.arrayContaining(taken));
  });

  it('each have a place of their own, and each changes side with the roles', () => {
    const rows = new FlowRows();
    const f = rows.newFlow(1);
    const a = f.slotAnalysis;
    const parts = { orig: f.orig, resp: f.resp, timing: f.timing, side0: f.timing.side[0], side1: f.timing.side[1] } as unknown as Record<string, Record<string, number | boolean>>;
    const names: Record<string, readonly string[]> = { orig: ENDPOINT_RARE_NAMES, resp: ENDPOINT_RARE_NAMES, timing: FLOW_RARE_NAMES, side0: SIDE_RARE_NAMES, side1: SIDE_RARE_NAMES };
    let next = 1000;
    const written: Record<string, Record<string, number | boolean>> = {};
    for (const [part, view] of Object.entries(parts)) {
      written[part] = {};
      for (const name of names[part]) view[name] = written[part][name] = typeof view[name] === 'boolean' ? true : next++;
    }
    for (let i = 0; i < ANALYSIS_COUNTS; i++) a.addToCounter(i, 5000 + i);
    const read = (part: string) => Object.fromEntries(names[part].map((name) => [name, parts[part][name]]));
    for (const part of Object.keys(parts)) expect(read(part), part).toEqual(written[part]);
    expect(Array.from({ length: ANALYSIS_COUNTS }, (_, i) => a.counter(i))).toEqual(Array.from({ length: ANALYSIS_COUNTS }, (_, i) => 5000 + i));
    f.turnRoles();
    expect(read('orig')).toEqual(written.resp);
    expect(read('resp')).toEqual(written.orig);
    expect(read('side0')).toEqual(written.side1);
    expect(read('side1')).toEqual(written.side0);
    expect(read('timing')).toEqual(written.timing);
    // Per-kind counts by sender, then pairs of counters, client's first.
    const kinds = SEG_NAMES.length;
    const swapped = (i: number) => (i < kinds ? i + kinds : i < 2 * kinds ? i - kinds : (i - 2 * kinds) % 2 === 0 ? i + 1 : i - 1);
    expect(Array.from({ length: ANALYSIS_COUNTS }, (_, i) => a.counter(i))).toEqual(Array.from({ length: ANALYSIS_COUNTS }, (_, i) => 5000 + swapped(i)));
    rows.release(f);
    expect(rows.rareColumns.live).toBe(0);
  });

  it('change sides with the roles, and a flow with none takes none for it', () => {
    const rows = new FlowRows();
    const f = rows.newFlow(1);
    f.orig.rstCount = 2;
    f.resp.copies = 3;
    f.timing.side[0].heldTotal = 5;
    f.timing.gaveUpNo = 9;
    f.slotAnalysis.addToCounter(0, 4);
    f.turnRoles();
    expect([f.orig.rstCount, f.resp.rstCount, f.orig.copies, f.resp.copies]).toEqual([0, 2, 3, 0]);
    expect([f.timing.side[0].heldTotal, f.timing.side[1].heldTotal, f.timing.gaveUpNo]).toEqual([0, 5, 9]);
    expect([f.slotAnalysis.count(0, 0), f.slotAnalysis.count(0, 1)]).toEqual([0, 4]);
    rows.release(f);
    const take = vi.spyOn(RareRow.prototype, 'take');
    const g = rows.newFlow(2);
    g.turnRoles();
    expect(take).not.toHaveBeenCalled();
    expect([g.orig.rstCount, g.resp.copies, g.timing.side[1].heldTotal, g.slotAnalysis.count(0, 1)]).toEqual([0, 0, 0, 0]);
  });

  it('count a SYN sent again in the flow\'s own row, also through a turn of roles', () => {
    const rows = new FlowRows();
    const take = vi.spyOn(RareRow.prototype, 'take');
    const f = rows.newFlow(1);
    const a = f.slotAnalysis;
    // Retransmissions per sender (kind 0), then handshake retransmissions per sender (after the kinds and the resent bytes).
    const handshake = 2 * SEG_NAMES.length + 2;
    a.addToCounter(0, 2);
    a.addToCounter(handshake, 2);
    a.addToCounter(SEG_NAMES.length, 1);
    a.addToCounter(handshake + 1, 1);
    f.turnRoles();
    expect(take).not.toHaveBeenCalled();
    expect([a.count(0, 0), a.count(0, 1), a.counter(handshake), a.counter(handshake + 1)]).toEqual([1, 2, 1, 2]);
    // The next counter along is a rare one.
    a.addToCounter(1, 1);
    expect(take).toHaveBeenCalledTimes(1);
    rows.release(f);
    take.mockRestore();
  });
});
