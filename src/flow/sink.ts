// Reassembly hands ordered, de-duplicated payload bytes to a StreamSink that knows nothing of TCP
// (gopacket's StreamFactory split). One sink per flow; both directions go to the same sink.
//
// Call order per flow: onData / onGap any number of times, in stream order per direction, onClose
// at each FIN or RST segment of a direction (a resent FIN comes again), then onEnd exactly once.
// `dir` is 0 for the originator (client) -> responder, 1 for the reverse. Data chunks are views
// valid only during the call: copy what you keep. Each stream byte is delivered once.

export type Dir = 0 | 1;

export interface StreamSink {
  /** Bytes [off, end) of `bytes` are the next stream bytes of `dir`; `streamOffset` is the
   *  offset of the first byte relative to the direction's first payload byte; `no`/`tsMicros`
   *  are the packet that completed them. */
  onData(dir: Dir, bytes: Uint8Array, off: number, end: number, streamOffset: number, no: number, tsMicros: number): void;
  /** `length` bytes were never seen (Zeek's content_gap / missed_bytes). */
  onGap(dir: Dir, streamOffset: number, length: number, no: number, tsMicros: number): void;
  /** A FIN or RST segment of this direction (`how`): called for each, a resent FIN or a second RST included. */
  onClose?(dir: Dir, how: 'fin' | 'rst', no: number, tsMicros: number): void;
  /** The flow is finished (closed, expired, or capture end). */
  onEnd(tsMicros: number): void;
  /**
   * False once the stream is known to be no protocol the sink reads: its payload may stop being
   * reassembled when memory runs short (see memcap.ts). Without it, the payload is read.
   */
  readsPayload?(): boolean;
}

export interface SinkFactory {
  /** Called when a flow first carries payload; returning null disables reassembly for it. */
  create(flow: SinkFlow): StreamSink | null;
}

/** What a sink is told of its flow: `slot`, the flow's row slot, is its own while the flow is open. */
export interface SinkFlow {
  id: number;
  slot: number;
  clientPort: number;
  serverPort: number;
}
