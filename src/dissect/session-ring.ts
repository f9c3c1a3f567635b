// The stream of one dissector thread's input: what the flow table tells the sessions it keeps
// there (a session begins, payload bytes, a gap, a close, its end), written by the analysing
// thread into a ring in shared memory and read in order by the dissector thread (session-threads.ts
// writes, serveSessions below reads). Records are 8-byte aligned: a 40-byte header, then the
// payload bytes of a DATA record. A payload too large for the ring goes through the bulk port
// instead, in the same order, and its record says so.
//
// Control words (Int32, in a shared buffer of their own):
//   HEAD, TAIL      bytes written and read, counted modulo 2^32 (the ring's size divides 2^32);
//                   they start at RING_START, so every analysis crosses the wrap early on
//   SIGNAL          bumped by the dissector thread after it read records or posted facts
//   MAIN_WAITING    the analysing thread waits on SIGNAL: the dissector posts and signals at once
//   SLEEPING        the dissector thread waits on HEAD: the analysing thread notifies it
//   STARTED         set by the dissector thread once it runs
//   FAILED          set by the dissector thread when it stops on an error (the reason is posted)

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { AppFacts } from './types.js';
import { takeSession } from './session.js';
import { GuardedSession, type SessionError } from './guarded-session.js';

export const CONTROL = { HEAD: 0, TAIL: 1, SIGNAL: 2, MAIN_WAITING: 3, SLEEPING: 4, STARTED: 5, FAILED: 6, WORDS: 8 } as const;

export const RECORD = { PAD: 0, CREATE: 1, DATA: 2, GAP: 3, CLOSE: 4, END: 5, QUERY: 6, STOP: 7 } as const;

/** In a DATA record's aux word, beside the direction: the bytes come through the bulk port. */
export const DATA_IN_BULK = 2;

/** Where the positions start: 1 MiB below 2^32. */
export const RING_START = -(1 << 20);

/**
 * Header words: Int32 [0] kind, [1] the flow's row slot, [2] length (payload bytes, gap bytes, or
 * for CREATE whether the session records events), [3] aux (direction, close kind, query id);
 * Float64 [2] stream offset (CREATE: the flow id), [3] time (µs), [4] packet number.
 */
export const HEADER_BYTES = 40;

/** The bytes a record takes in the ring: its header, and a DATA record's payload unless it went through the bulk port. */
export function recordBytes(payloadInRing: number): number {
  return (HEADER_BYTES + payloadInRing + 7) & ~7;
}

/** What the analysing thread gives a dissector thread. */
export interface SessionThreadData {
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** Where the dissector thread posts ended sessions' facts and query answers. */
  port: MessagePort;
  /** Where the analysing thread sends payloads too large for the ring. */
  bulk: MessagePort;
  leanSlowFloorMicros: number | null;
}

/** An ended session, as posted back: its flow, its facts, and the first error its dissector met. */
export interface EndedSession {
  slot: number;
  flowId: number;
  facts: AppFacts;
  error: SessionError | null;
}

/** What a dissector thread posts: ended sessions, the answer to a query, or why it stopped. */
export type SessionThreadMessage = { ended: EndedSession[] } | { query: number; opaqueSlots: number[] } | { failed: string };

/** Ended sessions posted together: one message carries many, so each costs the analysing thread less. */
const ENDED_BATCH = 64;
/** How long the dissector thread sleeps at most before it looks at the ring again. */
const IDLE_WAIT_MS = 1000;

/** Each open session of this thread, by its flow's row slot. */
interface Open {
  flowId: number;
  session: GuardedSession;
}

/**
 * The dissector thread's loop: reads records until STOP, running each session as the analysing
 * thread would. An error outside a session's own calls stops the thread and is reported.
 */
export function serveSessions(data: SessionThreadData): void {
  const ctl = new Int32Array(data.control);
  Atomics.store(ctl, CONTROL.STARTED, 1);
  try {
    serve(data, ctl);
  } catch (err) {
    data.port.postMessage({ failed: String((err as Error)?.stack ?? err).split('\n').slice(0, 2).join(' ') } satisfies SessionThreadMessage);
    Atomics.store(ctl, CONTROL.FAILED, 1);
    Atomics.add(ctl, CONTROL.SIGNAL, 1);
    Atomics.notify(ctl, CONTROL.SIGNAL);
  }
}

function serve(data: SessionThreadData, ctl: Int32Array): void {
  const bytes = new Uint8Array(data.ring);
  const words = new Int32Array(data.ring);
  const numbers = new Float64Array(data.ring);
  const mask = bytes.length - 1;
  const open: (Open | null)[] = [];
  let ended: EndedSession[] = [];
  let tail = Atomics.load(ctl, CONTROL.TAIL);

  const post = (): boolean => {
    if (ended.length === 0) return false;
    data.port.postMessage({ ended } satisfies SessionThreadMessage);
    ended = [];
    return true;
  };
  const signal = (): void => {
    Atomics.add(ctl, CONTROL.SIGNAL, 1);
    if (Atomics.load(ctl, CONTROL.MAIN_WAITING) !== 0) Atomics.notify(ctl, CONTROL.SIGNAL);
  };
  const openAt = (slot: number): Open => {
    const o = open[slot];
    if (!o) throw new Error(`a record for slot ${slot}, which has no open session`);
    return o;
  };

  for (;;) {
    const head = Atomics.load(ctl, CONTROL.HEAD);
    if (head === tail) {
      post();
      signal();
      Atomics.store(ctl, CONTROL.SLEEPING, 1);
      Atomics.wait(ctl, CONTROL.HEAD, tail, IDLE_WAIT_MS);
      Atomics.store(ctl, CONTROL.SLEEPING, 0);
      continue;
    }
    while (tail !== head) {
      const at = tail & mask;
      const w = at >> 2;
      const d = at >> 3;
      const kind = words[w];
      if (kind === RECORD.PAD) {
        tail = (tail + (bytes.length - at)) | 0;
        continue;
      }
      const slot = words[w + 1];
      const len = words[w + 2];
      const aux = words[w + 3];
      const no = numbers[d + 4];
      const ts = numbers[d + 3];
      let inRing = 0;
      switch (kind) {
        case RECORD.CREATE: {
          while (open.length <= slot) open.push(null);
          open[slot] = { flowId: numbers[d + 2], session: new GuardedSession(takeSession(len !== 0, data.leanSlowFloorMicros)) };
          break;
        }
        case RECORD.DATA: {
          const dir = (aux & 1) as 0 | 1;
          if (aux & DATA_IN_BULK) {
            const bulk = receiveMessageOnPort(data.bulk);
            if (!bulk) throw new Error('a payload announced in the ring never came through the bulk port');
            openAt(slot).session.onData(dir, bulk.message as Uint8Array, 0, len, numbers[d + 2], no, ts);
          } else {
            inRing = len;
            openAt(slot).session.onData(dir, bytes, at + HEADER_BYTES, at + HEADER_BYTES + len, numbers[d + 2], no, ts);
          }
          break;
        }
        case RECORD.GAP:
          openAt(slot).session.onGap(aux as 0 | 1, numbers[d + 2], len, no, ts);
          break;
        case RECORD.CLOSE:
          openAt(slot).session.onClose((aux & 1) as 0 | 1, aux & 2 ? 'rst' : 'fin', no, ts);
          break;
        case RECORD.END: {
          const { flowId, session } = openAt(slot);
          session.onEnd(ts);
          ended.push({ slot, flowId, facts: session.facts, error: session.error });
          open[slot] = null;
          if (ended.length >= ENDED_BATCH) post();
          break;
        }
        case RECORD.QUERY: {
          // Sessions ended before the query are answered with it, so the answer finds them all.
          post();
          const opaqueSlots: number[] = [];
          for (let s = 0; s < open.length; s++) if (open[s] && !open[s]!.session.readsPayload()) opaqueSlots.push(s);
          data.port.postMessage({ query: aux, opaqueSlots } satisfies SessionThreadMessage);
          break;
        }
        case RECORD.STOP:
          post();
          Atomics.store(ctl, CONTROL.TAIL, (tail + recordBytes(0)) | 0);
          signal();
          return;
        default:
          throw new Error(`a record of unknown kind ${kind}`);
      }
      tail = (tail + recordBytes(inRing)) | 0;
      Atomics.store(ctl, CONTROL.TAIL, tail);
      if (Atomics.load(ctl, CONTROL.MAIN_WAITING) !== 0) {
        post();
        signal();
      }
    }
  }
}
