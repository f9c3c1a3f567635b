// Spare facts: the objects of payload facts nobody refers to any more, filled anew by later
// sessions. A flow's facts live as long as the flow and its linger, seconds, so each new one is
// promoted to the old generation and collected there; a spare one was promoted long ago and costs
// neither. Facts come back from two places: the exchanges a lean session drops as it reads (see
// exchanges.ts), and whole facts whose flow was handed out to a caller that keeps nothing of it
// (the analyzer's flowsForgottenWhenHandedOut). Each pool holds a bounded number (see Spares), so
// an idle pool holds little.
import type { AppFacts, CloseFact, HttpExchangeFacts, HttpInterimFacts, HttpRequestFacts, HttpResponseFacts, SelectedHeaders } from './types.js';

/**
 * The lists of facts a session had none of (almost all): shared and never written; a session's
 * first one gives it a list of its own.
 */
export const NO_ERRORS: AppFacts['errors'] = Object.freeze([]) as unknown as AppFacts['errors'];
export const NO_GAPS: AppFacts['gaps'] = Object.freeze([]) as unknown as AppFacts['gaps'];
export const NO_EVENTS: AppFacts['events'] = Object.freeze([]) as unknown as AppFacts['events'];
export const NO_CLOSES: AppFacts['closes'] = Object.freeze([]) as unknown as AppFacts['closes'];
export const NO_EXCHANGES: HttpExchangeFacts[] = Object.freeze([]) as unknown as HttpExchangeFacts[];
/** The 1xx answers of an exchange that had none (almost all). */
export const NO_INTERIM: HttpInterimFacts[] = Object.freeze([]) as unknown as HttpInterimFacts[];

/**
 * Objects nothing refers to any more, kept to be filled anew, last in first out: at most `max`,
 * as many as the flows that end between two that begin, with room.
 */
export class Spares<T> {
  private readonly items: T[] = [];

  constructor(private readonly max: number) {}

  /** A spare object, or undefined when there is none. */
  take(): T | undefined {
    return this.items.pop();
  }

  /** Keeps `item` when there is room. Returns whether it was kept. */
  keep(item: T): boolean {
    if (this.items.length >= this.max) return false;
    this.items.push(item);
    return true;
  }

  /** Whether another object would be kept. */
  get hasRoom(): boolean {
    return this.items.length < this.max;
  }
}

const spareFacts = new Spares<AppFacts>(256);
const spareExchangeLists = new Spares<HttpExchangeFacts[]>(256);
const spareExchanges = new Spares<HttpExchangeFacts>(1024);
const spareRequests = new Spares<HttpRequestFacts>(1024);
const spareResponses = new Spares<HttpResponseFacts>(1024);
const spareHeaders = new Spares<SelectedHeaders>(2048);
const spareCloses = new Spares<CloseFact>(2048);

/** What the request and response facts in the spare pools, and the heads of spare parsers, refer to in place of a message's headers. */
export const NO_HEADERS: SelectedHeaders = Object.freeze({});

/** An empty headers object for a message's head to fill: a spare one when there is one. */
export function takeHeaders(): SelectedHeaders {
  return spareHeaders.take() ?? {};
}

/**
 * Deletes every field, last first: each delete then takes the object back to the shape it had
 * before that field, so it stays a fast object with the empty object's shape. Deleted in any other
 * order, or by a key string V8 has not interned (Object.keys gives interned ones), the object
 * would become a dictionary.
 */
function emptyHeaders(h: object): void {
  // for-in reads a fast object's keys from its shape's cache, as interned strings, where
  // Object.keys would make an array of them for every message.
  let n = 0;
  for (const key in h) headerKeys[n++] = key;
  for (let i = n - 1; i >= 0; i--) delete h[headerKeys[i] as keyof typeof h];
  headerKeys.fill('', 0, n);
}
/** The keys emptyHeaders deletes, in order. */
const headerKeys: string[] = [];

/** A message's headers nothing refers to any more, emptied for the next message, whose fields keep their order. */
function recycleHeaders(h: SelectedHeaders): void {
  if (h === NO_HEADERS || !spareHeaders.hasRoom) return;
  emptyHeaders(h);
  spareHeaders.keep(h);
}

export function newAppFacts(): AppFacts {
  return {
    protocol: 'unknown',
    upgradedTo: null,
    http: NO_EXCHANGES,
    httpDropped: 0,
    httpTurns: null,
    websocket: null,
    errors: NO_ERRORS,
    gaps: NO_GAPS,
    events: NO_EVENTS,
    eventsDropped: 0,
    closes: NO_CLOSES,
    bytes: { client: 0, server: 0 },
    tls: null,
    tlsClosing: null,
    unfinishedRequestLine: null,
  };
}

/** Facts as newAppFacts() makes them: a spare one when there is one (see recycleAppFacts). */
export function takeAppFacts(): AppFacts {
  return spareFacts.take() ?? newAppFacts();
}

/** The fact of a side's FIN or RST: a spare one, filled, when there is one. */
export function takeClose(dir: CloseFact['dir'], how: CloseFact['how'], no: number, tsMicros: number): CloseFact {
  const close = spareCloses.take();
  if (!close) return { dir, how, no, tsMicros };
  close.dir = dir;
  close.how = how;
  close.no = no;
  close.tsMicros = tsMicros;
  return close;
}

/** An empty exchange list, to push a session's first exchange into. */
export function takeExchangeList(): HttpExchangeFacts[] {
  return spareExchangeLists.take() ?? [];
}

export function newExchange(): HttpExchangeFacts {
  return {
    request: null,
    response: null,
    interim: NO_INTERIM,
    timing: { requestAt: null, requestEndAt: null, requestEndPacket: null, responseAt: null, responseEndAt: null, responseEndPacket: null, thinkMs: null },
    closeAfter: null,
    closedBy: null,
    closeHow: null,
    closeAfterMs: null,
  };
}

/** An exchange as newExchange() makes it: a spare one (see recycleExchange) when there is one. */
export function takeExchange(): HttpExchangeFacts {
  return spareExchanges.take() ?? newExchange();
}

/** Request facts nobody refers to, to be filled whole (null: make new ones). */
export function takeRequestFacts(): HttpRequestFacts | null {
  return spareRequests.take() ?? null;
}

/** Response facts nobody refers to, to be filled whole (null: make new ones). */
export function takeResponseFacts(): HttpResponseFacts | null {
  return spareResponses.take() ?? null;
}

/**
 * An exchange nothing refers to any more, its request and response facts and their headers with
 * it: emptied as newExchange() makes one. Its messages are over, and an HTTP parser lets go of a
 * message's headers when the message completes or is aborted (its head is set to null before the
 * hooks hear of it), and gives the next message new headers before it reads any field of it.
 */
export function recycleExchange(ex: HttpExchangeFacts): void {
  if (ex.request && spareRequests.keep(ex.request)) {
    recycleHeaders(ex.request.headers);
    ex.request.headers = NO_HEADERS;
  }
  if (ex.response && spareResponses.keep(ex.response)) {
    recycleHeaders(ex.response.headers);
    ex.response.headers = NO_HEADERS;
  }
  if (!spareExchanges.hasRoom) return;
  ex.request = null;
  ex.response = null;
  ex.interim = NO_INTERIM;
  if (ex.expectContinue) ex.expectContinue = undefined;
  const t = ex.timing;
  t.requestAt = t.requestEndAt = t.requestEndPacket = t.responseAt = t.responseEndAt = t.responseEndPacket = t.thinkMs = null;
  ex.closeAfter = ex.closedBy = ex.closeHow = ex.closeAfterMs = null;
  spareExchanges.keep(ex);
}

/**
 * Facts nothing refers to any more, nor to any object in them: their exchanges, their closes and
 * the facts object itself are filled anew by later sessions. The caller drops its own reference.
 */
export function recycleAppFacts(app: AppFacts): void {
  const list = app.http;
  // An empty list is not taken: facts posted from a dissector thread share one copy of it, which
  // would be given to as many sessions (a structured clone keeps the empty list they all shared).
  if (list.length > 0) {
    for (const ex of list) recycleExchange(ex);
    list.length = 0;
    spareExchangeLists.keep(list);
  }
  for (const close of app.closes) spareCloses.keep(close);
  app.closes = NO_CLOSES;
  if (!spareFacts.hasRoom) return;
  // Made as newAppFacts() makes them now: what they refer to goes now, not when they are next taken.
  app.protocol = 'unknown';
  app.upgradedTo = null;
  app.http = NO_EXCHANGES;
  app.httpDropped = 0;
  app.httpTurns = null;
  app.websocket = null;
  app.errors = NO_ERRORS;
  app.gaps = NO_GAPS;
  app.events = NO_EVENTS;
  app.eventsDropped = 0;
  app.bytes.client = 0;
  app.bytes.server = 0;
  app.tls = null;
  app.tlsClosing = null;
  app.unfinishedRequestLine = null;
  spareFacts.keep(app);
}
