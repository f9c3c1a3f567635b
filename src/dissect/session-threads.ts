// Dissector threads: the HTTP, WebSocket and TLS sessions of an analysis run in worker threads
// while the analysing thread reads, decodes, keeps the flow table and judges. The flow table calls
// a session here as it would call one of its own (SessionProxy, a StreamSink); each call becomes a
// record in a ring in shared memory (session-ring.ts) that the session's thread reads in order, so
// each session sees the same calls, with the same bytes, as in one thread. A session's facts come
// back when it ended, and the analysing thread waits for them only when it judges that flow: a
// closed flow lingers first, so they are usually there by then. A flow judged the moment it ends
// (a reset, a reused port, the idle timeout) waits for its thread to catch up.
//
// A thread that stops on an error, or never starts, is seen through a word in shared memory: the
// analysing thread waits on nothing from it any more, its sessions' flows are reported without
// their facts, and later sessions run in the analysing thread (SessionThreads.create returns null).
//
// A session's thread is chosen by its flow's row slot, which is its own while the flow is open.

import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { Dir, SinkFlow, StreamSink } from '../flow/sink.js';
import { CONTROL, DATA_IN_BULK, HEADER_BYTES, RECORD, RING_START, recordBytes, type EndedSession, type SessionThreadData, type SessionThreadMessage } from './session-ring.js';

/**
 * Each thread's ring: a power of two, so positions counted modulo 2^32 map onto it. It holds the
 * dissector thread's backlog (some 25,000 segments of the benchmark mix), and is small enough to
 * stay in cache.
 */
const RING_BYTES = 4 << 20;
/** A payload larger than this goes through the bulk port, so that no record needs more than a quarter of the ring. */
const RING_PAYLOAD_LIMIT = RING_BYTES / 4;
/**
 * Written bytes are handed to the dissector thread in steps of this many, a quarter of the ring.
 * Each step may wake it, which costs the analysing thread more than the step's records do, so
 * steps are large: a closed flow lingers for thousands of packets before it is judged, long after
 * its session's step.
 */
const PUBLISH_BYTES = RING_BYTES / 4;
/** A thread that has not started after this long never will. */
const START_MS = 10_000;
/**
 * A thread that read no record and posted nothing for this long while waited on is stuck or gone:
 * an idle thread signals every second, a busy one reads records.
 */
const STALL_MS = 10_000;

class SessionThread {
  readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly bulk: MessagePort;
  private readonly ctl: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly numbers: Float64Array;
  private readonly createdAt = Date.now();
  /** Bytes written, modulo 2^32, and how many of them the dissector thread was told of. */
  private head = RING_START;
  private published = RING_START;
  private queries = 0;
  /** The last query the thread answered. */
  private answeredQuery = 0;
  /** SIGNAL as a wait last saw it. */
  private lastSignal = 0;
  /** Why the thread is of no more use, once it is not. */
  failure: string | null = null;

  constructor(
    leanSlowFloorMicros: number | null,
    private readonly onMessage: (m: SessionThreadMessage) => void,
    private readonly onFailure: (reason: string) => void,
  ) {
    const ring = new SharedArrayBuffer(RING_BYTES);
    const control = new SharedArrayBuffer(CONTROL.WORDS * 4);
    this.ctl = new Int32Array(control);
    this.ctl[CONTROL.HEAD] = RING_START;
    this.ctl[CONTROL.TAIL] = RING_START;
    this.bytes = new Uint8Array(ring);
    this.words = new Int32Array(ring);
    this.numbers = new Float64Array(ring);
    const facts = new MessageChannel();
    const bulk = new MessageChannel();
    this.port = facts.port1;
    this.bulk = bulk.port1;
    const workerData: SessionThreadData = { ring, control, port: facts.port2, bulk: bulk.port2, leanSlowFloorMicros };
    // The thread prints nothing, and what it might print (a warning) is dropped: its errors come
    // through 'error'. Left to default, Node would pipe its stdio into the main thread's
    // process.stdout and process.stderr, which makes a piped stdout non-blocking: the report's
    // synchronous writes would then sleep at every full pipe (see cli/io.ts). Reading the streams
    // here instead would keep the process alive as long as the thread.
    this.worker = new Worker(new URL('./session-worker.js', import.meta.url), {
      workerData,
      transferList: [facts.port2, bulk.port2],
      stdout: true,
      stderr: true,
    });
    // The analysis ends the thread; an analysis abandoned on an error must not keep the process alive.
    this.worker.unref();
    // Heard between reads of the capture: a thread that could not load its code, for one.
    this.worker.on('error', (err) => this.fail(`it stopped on an error: ${err.message}`));
  }

  /**
   * Appends one record; `payload` [off, off + len) goes with a DATA record. Nothing is written once
   * the thread failed.
   */
  write(kind: number, slot: number, len: number, aux: number, offset: number, ts: number, no: number, payload: Uint8Array | null = null, off = 0): void {
    if (this.failure) return;
    const inBulk = payload !== null && len > RING_PAYLOAD_LIMIT;
    const size = recordBytes(payload && !inBulk ? len : 0);
    let at = this.head & (RING_BYTES - 1);
    if (at + size > RING_BYTES) {
      // The record would cross the ring's end: the rest of the ring is padding.
      if (!this.waitForRoom(RING_BYTES - at)) return;
      this.words[at >> 2] = RECORD.PAD;
      this.head = (this.head + (RING_BYTES - at)) | 0;
      at = 0;
    }
    if (!this.waitForRoom(size)) return;
    if (inBulk) this.bulk.postMessage(payload.slice(off, off + len));
    const w = at >> 2;
    const d = at >> 3;
    this.words[w] = kind;
    this.words[w + 1] = slot;
    this.words[w + 2] = len;
    this.words[w + 3] = inBulk ? aux | DATA_IN_BULK : aux;
    this.numbers[d + 2] = offset;
    this.numbers[d + 3] = ts;
    this.numbers[d + 4] = no;
    if (payload && !inBulk) this.bytes.set(payload.subarray(off, off + len), at + HEADER_BYTES);
    this.head = (this.head + size) | 0;
    if (((this.head - this.published) | 0) >= PUBLISH_BYTES) this.publish();
  }

  /** Tells the dissector thread of everything written, waking it if it sleeps. */
  publish(): void {
    this.published = this.head;
    Atomics.store(this.ctl, CONTROL.HEAD, this.head);
    if (Atomics.load(this.ctl, CONTROL.SLEEPING) !== 0) Atomics.notify(this.ctl, CONTROL.HEAD);
  }

  /** Hands over every message posted so far. */
  receive(): void {
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
      const message = m.message as SessionThreadMessage;
      if ('failed' in message) this.fail(`it stopped on an error: ${message.failed}`);
      else {
        if ('query' in message) this.answeredQuery = message.query;
        this.onMessage(message);
      }
    }
  }

  /**
   * Waits until `done()`, handing over the thread's messages as they come; false when the thread
   * failed instead. The thread posts and signals after each record while this thread waits, so the
   * wait ends as soon as it can.
   */
  waitUntil(done: () => boolean): boolean {
    this.publish();
    let progress = Date.now();
    let tail = Atomics.load(this.ctl, CONTROL.TAIL);
    for (;;) {
      const signal = Atomics.load(this.ctl, CONTROL.SIGNAL);
      this.receive();
      if (done()) return true;
      const now = Date.now();
      if (signal !== this.lastSignal || Atomics.load(this.ctl, CONTROL.TAIL) !== tail) {
        this.lastSignal = signal;
        tail = Atomics.load(this.ctl, CONTROL.TAIL);
        progress = now;
      }
      this.checkFailed();
      if (!this.failure && Atomics.load(this.ctl, CONTROL.STARTED) === 0 && now - this.createdAt > START_MS) this.fail(`it did not start within ${START_MS / 1000} s`);
      if (!this.failure && now - progress > STALL_MS) this.fail(`it did nothing for ${STALL_MS / 1000} s`);
      if (this.failure) return false;
      Atomics.store(this.ctl, CONTROL.MAIN_WAITING, 1);
      Atomics.wait(this.ctl, CONTROL.SIGNAL, signal, 100);
      Atomics.store(this.ctl, CONTROL.MAIN_WAITING, 0);
    }
  }

  /** Whether the thread can take a new session: it has not failed, as far as can be seen now. */
  usable(): boolean {
    this.checkFailed();
    return this.failure === null;
  }

  /** Takes note of a failure the thread has flagged (its reason comes with its messages). */
  private checkFailed(): void {
    if (this.failure || Atomics.load(this.ctl, CONTROL.FAILED) === 0) return;
    this.receive();
    this.fail('it stopped on an error');
  }

  private fail(reason: string): void {
    if (this.failure) return;
    this.failure = reason;
    void this.worker.terminate();
    this.onFailure(reason);
  }

  private waitForRoom(size: number): boolean {
    return this.hasRoom(size) || this.waitUntil(() => this.hasRoom(size));
  }

  private hasRoom(size: number): boolean {
    return RING_BYTES - ((this.head - Atomics.load(this.ctl, CONTROL.TAIL)) | 0) >= size;
  }

  /** Asks the thread which of its open sessions read no payload; the answer comes through onMessage. */
  query(): void {
    const id = ++this.queries;
    this.write(RECORD.QUERY, 0, 0, id, 0, 0, 0);
    this.waitUntil(() => this.answeredQuery === id);
  }

  stop(): void {
    this.write(RECORD.STOP, 0, 0, 0, 0, 0, 0);
    if (this.waitUntil(() => Atomics.load(this.ctl, CONTROL.TAIL) === this.head)) void this.worker.terminate();
  }
}

/** The StreamSink the flow table holds for a session that runs in a dissector thread. */
class SessionProxy implements StreamSink {
  /** The threads' query generation when this session was last written to (see readsPayload). */
  lastWrite = 0;

  constructor(
    private readonly threads: SessionThreads,
    private readonly thread: SessionThread,
    readonly slot: number,
  ) {}

  onData(dir: Dir, bytes: Uint8Array, off: number, end: number, streamOffset: number, no: number, tsMicros: number): void {
    if (end <= off) return;
    this.lastWrite = this.threads.generation;
    this.thread.write(RECORD.DATA, this.slot, end - off, dir, streamOffset, tsMicros, no, bytes, off);
  }

  onGap(dir: Dir, streamOffset: number, length: number, no: number, tsMicros: number): void {
    this.lastWrite = this.threads.generation;
    this.thread.write(RECORD.GAP, this.slot, length, dir, streamOffset, tsMicros, no);
  }

  onClose(dir: Dir, how: 'fin' | 'rst', no: number, tsMicros: number): void {
    this.lastWrite = this.threads.generation;
    this.thread.write(RECORD.CLOSE, this.slot, 0, dir | (how === 'rst' ? 2 : 0), 0, tsMicros, no);
  }

  onEnd(tsMicros: number): void {
    this.thread.write(RECORD.END, this.slot, 0, 0, 0, tsMicros, 0);
  }

  readsPayload(): boolean {
    return this.threads.readsPayload(this);
  }
}

/** The dissector threads of one analysis, started with the first session. */
export class SessionThreads {
  private threads: SessionThread[] = [];
  /** Ended sessions' facts not yet taken, by slot. */
  private readonly ended = new Map<number, EndedSession>();
  /** Counts the queries of readsPayload; a proxy notes it as it writes. */
  generation = 0;
  /** The slots of sessions that read no payload, as the last query found them. */
  private opaque = new Set<number>();

  /** `onFailure` hears once of each thread that failed, and why. */
  constructor(
    private readonly count: number,
    private readonly leanSlowFloorMicros: number | null,
    private readonly onFailure: (reason: string) => void,
  ) {}

  /**
   * A session for the flow in a dissector thread (`recordEvents` as AppSession takes it), or null
   * when the flow's thread failed: the session is then the caller's to run.
   */
  create(flow: SinkFlow, recordEvents: boolean): StreamSink | null {
    if (this.threads.length === 0) {
      for (let i = 0; i < this.count; i++) this.threads.push(new SessionThread(this.leanSlowFloorMicros, (m) => this.onMessage(m), this.onFailure));
    }
    const thread = this.threads[flow.slot % this.count];
    if (!thread.usable()) return null;
    const proxy = new SessionProxy(this, thread, flow.slot);
    proxy.lastWrite = this.generation;
    thread.write(RECORD.CREATE, flow.slot, recordEvents ? 1 : 0, 0, flow.id, 0, 0);
    return proxy;
  }

  /** The ended session of the flow in `slot`, waiting for its thread if need be; null when its thread failed first. */
  take(slot: number, flowId: number): EndedSession | null {
    const mine = () => this.ended.get(slot)?.flowId === flowId;
    if (!mine() && !this.threads[slot % this.count].waitUntil(mine)) return null;
    const e = this.ended.get(slot)!;
    this.ended.delete(slot);
    return e;
  }

  /**
   * Whether the session still reads payload (see StreamSink.readsPayload). The threads are asked
   * once for all their sessions, opening a new generation; the answer stands for each session
   * written to in an earlier one. A session whose thread failed is taken to read it.
   */
  readsPayload(proxy: SessionProxy): boolean {
    if (proxy.lastWrite >= this.generation) {
      this.generation++;
      this.opaque = new Set();
      for (const t of this.threads) t.query();
    }
    return !this.opaque.has(proxy.slot);
  }

  /** Ends the threads once every session was taken. */
  stop(): void {
    for (const t of this.threads) t.stop();
    this.threads = [];
  }

  private onMessage(m: SessionThreadMessage): void {
    if ('ended' in m) {
      for (const e of m.ended) this.ended.set(e.slot, e);
    } else if ('query' in m) {
      for (const s of m.opaqueSlots) this.opaque.add(s);
    }
  }
}
