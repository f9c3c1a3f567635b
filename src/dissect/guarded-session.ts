// A session whose dissector errors stay its own: a call that throws is noted (the first error,
// with its packet) and the flow's TCP analysis goes on, so a bug in a dissector costs that flow's
// payload facts from there on and nothing else. The analysing thread and the dissector threads
// run sessions through it alike, so both say the same of the same error.
import type { Dir, StreamSink } from '../flow/sink.js';
import { recycleSession, type AppSession } from './session.js';
import type { AppFacts } from './types.js';

export interface SessionError {
  packet: number;
  message: string;
}

/** An error's message and the line that threw it. */
function errorText(err: unknown): string {
  return (err as Error)?.stack?.split('\n').slice(0, 2).map((l) => l.trim()).join(' ') ?? String(err);
}

export class GuardedSession implements StreamSink {
  /** The first error a call met, or null. */
  error: SessionError | null = null;
  /** The packet of the last call, where an error at the end is placed. */
  private lastNo = 0;

  /** The session's facts, which outlive it: the session is let go at its end, while its flow lingers. */
  readonly facts: AppFacts;
  private session: AppSession | null;

  constructor(session: AppSession) {
    this.session = session;
    this.facts = session.facts;
  }

  onData(dir: Dir, bytes: Uint8Array, off: number, end: number, streamOffset: number, no: number, tsMicros: number): void {
    this.lastNo = no;
    try {
      this.session!.onData(dir, bytes, off, end, streamOffset, no, tsMicros);
    } catch (err) {
      this.fail(no, err);
    }
  }

  onGap(dir: Dir, streamOffset: number, length: number, no: number, tsMicros: number): void {
    this.lastNo = no;
    try {
      this.session!.onGap(dir, streamOffset, length, no, tsMicros);
    } catch (err) {
      this.fail(no, err);
    }
  }

  onClose(dir: Dir, how: 'fin' | 'rst', no: number, tsMicros: number): void {
    this.lastNo = no;
    try {
      this.session!.onClose(dir, how, no, tsMicros);
    } catch (err) {
      this.fail(no, err);
    }
  }

  onEnd(tsMicros: number): void {
    const session = this.session;
    if (!session) return;
    this.session = null;
    try {
      session.onEnd(tsMicros);
    } catch (err) {
      this.fail(this.lastNo, err);
    }
    // A session that met an error may be in any state: it is not begun anew.
    if (!this.error) recycleSession(session);
  }

  readsPayload(): boolean {
    return this.session?.readsPayload() ?? false;
  }

  private fail(packet: number, err: unknown): void {
    this.error ??= { packet, message: errorText(err) };
  }
}
