// LeanExchanges: the HTTP exchanges of one connection as the rules and the default reports read
// them, without keeping all of them. An exchange is settled once nothing more can change it (a
// response to it ended and the client moved on to another request); settled exchanges are then
// kept only when a reader may look for them:
// - the first exchange, the first with a request and the first with a request and a response
//   (the upgrade's fallback, Zeek's http service);
// - every error response (4xx, 5xx) and every request left unanswered, complete or not;
// - every request sent in the packet of the latest WebSocket upgrade request;
// - every request that asked for "100 Continue" and sent a body;
// - the last answered exchange (response-cut-short), while no later one is answered;
// - the slowest answer over the slow-server floor, while no later one is slower;
// - the request that took longest to arrive (slow-request), while no later one took longer.
// The others are counted as answered turns, and as slow ones over the floor, then dropped. Settling
// goes in exchange order, so a reader that takes the first match in the list finds the same one.
import { Spares, recycleExchange } from './recycle.js';
import type { HttpExchangeFacts, HttpTurnCounts } from './types.js';

const KEPT = {
  FOR_GOOD: 1,
  LAST_ANSWERED: 2,
  SLOWEST: 4,
  LONGEST_REQUEST: 8,
} as const;
/** An exchange number times MARK leaves room for the KEPT bits. */
const MARK = 16;
const ordinalOf = (mark: number) => mark >>> 4;

/** Lean lists of sessions that ended, to be begun anew (see takeLeanExchanges). */
const spareLeanExchanges = new Spares<LeanExchanges>(64);

/** A lean list as `new LeanExchanges(...)` makes it: a spare one when there is one. */
export function takeLeanExchanges(list: HttpExchangeFacts[], turns: HttpTurnCounts, slowFloorMicros: number): LeanExchanges {
  return spareLeanExchanges.take()?.begin(list, turns, slowFloorMicros) ?? new LeanExchanges(list, turns, slowFloorMicros);
}

/** A lean list its session is done with (its exchanges stay in the facts): begun anew when taken. */
export function recycleLeanExchanges(lean: LeanExchanges): void {
  spareLeanExchanges.keep(lean.begin(NO_LIST, NO_TURNS, 0));
}

/** What a spare lean list refers to: nothing of a session's. */
const NO_LIST: HttpExchangeFacts[] = Object.freeze([]) as unknown as HttpExchangeFacts[];
const NO_TURNS: HttpTurnCounts = Object.freeze({ answered: 0, slow: 0 });

export class LeanExchanges {
  /** For each entry of `list`, its exchange number times MARK plus the KEPT bits (0: not settled). */
  private readonly marks: number[] = [];
  private list!: HttpExchangeFacts[];
  private turns!: HttpTurnCounts;
  private slowFloorMicros!: number;
  /** Index in `list` of the first exchange not yet settled. */
  private unsettled!: number;
  private sawRequest!: boolean;
  private sawAnswer!: boolean;
  private lastAnswered!: HttpExchangeFacts | null;
  private slowest!: HttpExchangeFacts | null;
  private slowestWait!: number;
  private longestRequest!: HttpExchangeFacts | null;
  private longestRequestTook!: number;

  /**
   * `list`: the facts' exchange list, written in place; the exchanges already in it are numbered
   * from 0 and settled as the others. `slowFloorMicros`: the slow-server floor the flow will be
   * judged with.
   */
  constructor(list: HttpExchangeFacts[], turns: HttpTurnCounts, slowFloorMicros: number) {
    this.begin(list, turns, slowFloorMicros);
  }

  /** Ready for another session's list, as the constructor leaves it (the arguments are the constructor's). */
  begin(list: HttpExchangeFacts[], turns: HttpTurnCounts, slowFloorMicros: number): this {
    this.list = list;
    this.turns = turns;
    this.slowFloorMicros = slowFloorMicros;
    this.marks.length = 0;
    for (let i = 0; i < list.length; i++) this.marks.push(i * MARK);
    this.unsettled = 0;
    this.sawRequest = false;
    this.sawAnswer = false;
    this.lastAnswered = null;
    this.slowest = null;
    this.slowestWait = 0;
    this.longestRequest = null;
    this.longestRequestTook = 0;
    return this;
  }

  add(ex: HttpExchangeFacts, ordinal: number): void {
    this.list.push(ex);
    this.marks.push(ordinal * MARK);
  }

  /** The exchange numbered `ordinal`, null when it was settled and dropped. */
  at(ordinal: number): HttpExchangeFacts | null {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const o = ordinalOf(this.marks[i]);
      if (o === ordinal) return this.list[i];
      if (o < ordinal) return null;
    }
    return null;
  }

  /**
   * Settles the exchanges before `responseSlot` (the next final response's), except the one the
   * request parser still fills (`requestSlot`) and those after it. `wsRequestPacket`: the packet of
   * the latest WebSocket upgrade request (-1: none).
   */
  settle(responseSlot: number, requestSlot: number, wsRequestPacket: number): void {
    while (this.unsettled < this.list.length) {
      const ordinal = ordinalOf(this.marks[this.unsettled]);
      if (ordinal >= responseSlot || ordinal === requestSlot) return;
      this.settleNext(wsRequestPacket);
    }
  }

  /** The stream ended: nothing changes any more. */
  settleAll(wsRequestPacket: number): void {
    while (this.unsettled < this.list.length) this.settleNext(wsRequestPacket);
  }

  private settleNext(wsRequestPacket: number): void {
    const i = this.unsettled;
    const ex = this.list[i];
    const req = ex.request;
    const resp = ex.response;
    let why = ordinalOf(this.marks[i]) === 0 ? KEPT.FOR_GOOD : 0;
    if (req) {
      if (!this.sawRequest) why |= KEPT.FOR_GOOD;
      this.sawRequest = true;
      if (resp && !this.sawAnswer) why |= KEPT.FOR_GOOD;
      if (resp) this.sawAnswer = true;
      if ((resp && resp.status >= 400) || !resp || req.packet === wsRequestPacket) why |= KEPT.FOR_GOOD;
      // A body held for a "100 Continue" (expect-continue-unanswered reads these).
      if (ex.expectContinue?.bodyPacket != null) why |= KEPT.FOR_GOOD;
    }
    if (resp) why |= KEPT.LAST_ANSWERED;
    const t = ex.timing;
    let wait = -1;
    if (req && resp && t.requestEndAt !== null && t.requestEndPacket !== null && t.responseAt !== null) {
      wait = t.responseAt - t.requestEndAt;
      if (wait >= 0) this.turns.answered++;
      if (wait >= Math.max(0, this.slowFloorMicros)) {
        this.turns.slow++;
        if (this.slowest === null || wait > this.slowestWait) why |= KEPT.SLOWEST;
      }
    }
    // As slow-request measures it: from the body, after a wait for "100 Continue".
    const took = req?.complete && t.requestAt !== null && t.requestEndAt !== null ? t.requestEndAt - (ex.expectContinue?.bodyAt ?? t.requestAt) : -1;
    if (took > 0 && (this.longestRequest === null || took > this.longestRequestTook)) why |= KEPT.LONGEST_REQUEST;
    if (why === 0) {
      this.removeAt(i);
      return;
    }
    this.marks[i] += why;
    this.unsettled = i + 1;
    if (why & KEPT.LAST_ANSWERED) {
      const before = this.lastAnswered;
      this.lastAnswered = ex;
      if (before) this.release(before, KEPT.LAST_ANSWERED);
    }
    if (why & KEPT.SLOWEST) {
      const before = this.slowest;
      this.slowest = ex;
      this.slowestWait = wait;
      if (before) this.release(before, KEPT.SLOWEST);
    }
    if (why & KEPT.LONGEST_REQUEST) {
      const before = this.longestRequest;
      this.longestRequest = ex;
      this.longestRequestTook = took;
      if (before) this.release(before, KEPT.LONGEST_REQUEST);
    }
  }

  /** A settled exchange is no longer kept for `reason`; dropped when nothing else keeps it. */
  private release(ex: HttpExchangeFacts, reason: number): void {
    for (let i = this.unsettled - 1; i >= 0; i--) {
      if (this.list[i] !== ex) continue;
      this.marks[i] &= ~reason;
      if ((this.marks[i] & (MARK - 1)) === 0) {
        this.removeAt(i);
        this.unsettled--;
      }
      return;
    }
  }

  /** Drops the exchange at `i`: nothing refers to it any more, so a later one is filled into it. */
  private removeAt(i: number): void {
    recycleExchange(this.list[i]);
    const last = this.list.length - 1;
    for (let j = i; j < last; j++) {
      this.list[j] = this.list[j + 1];
      this.marks[j] = this.marks[j + 1];
    }
    this.list.pop();
    this.marks.pop();
  }
}
