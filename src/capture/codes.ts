// Stable codes for everything the capture readers can say about their input (llhttp's ERROR table).
// Codes are never renamed once shipped; tests and the JSON report match on them.

/** Thrown as CaptureOpenError: nothing in the input can be read as a capture. */
export const OPEN_ERROR = {
  CAPTURE_NOT_FOUND: 'CAPTURE_NOT_FOUND',
  CAPTURE_UNREADABLE: 'CAPTURE_UNREADABLE',
  CAPTURE_EMPTY: 'CAPTURE_EMPTY',
  CAPTURE_BAD_MAGIC: 'CAPTURE_BAD_MAGIC',
  CAPTURE_TRUNCATED_HEADER: 'CAPTURE_TRUNCATED_HEADER',
} as const;
export type OpenErrorCode = (typeof OPEN_ERROR)[keyof typeof OPEN_ERROR];

/** Reported as CaptureDiagnostic; reading goes on unless the diagnostic says it stopped. */
export const CAPTURE_DIAG = {
  /** pcap record caplen above the 256 KiB any reader accepts: the framing is lost, reading stops. */
  PCAP_RECORD_TOO_LONG: 'PCAP_RECORD_TOO_LONG',
  /** pcap record caplen above the file's snap length; the packet is still delivered (libpcap does the same). */
  PCAP_CAPLEN_EXCEEDS_SNAPLEN: 'PCAP_CAPLEN_EXCEEDS_SNAPLEN',
  /** pcap record caplen above the original length; the packet is still delivered. */
  PCAP_CAPLEN_EXCEEDS_ORIGLEN: 'PCAP_CAPLEN_EXCEEDS_ORIGLEN',
  /** The input ends inside a pcap record. */
  PCAP_TRUNCATED_RECORD: 'PCAP_TRUNCATED_RECORD',
  /** Block length below the minimum for the block type: framing lost, reading stops (or the block is skipped when its framing is intact). */
  PCAPNG_BLOCK_TOO_SHORT: 'PCAPNG_BLOCK_TOO_SHORT',
  PCAPNG_BLOCK_TOO_LONG: 'PCAPNG_BLOCK_TOO_LONG',
  PCAPNG_BLOCK_UNALIGNED: 'PCAPNG_BLOCK_UNALIGNED',
  /** Leading and trailing block length fields disagree: framing lost, reading stops. */
  PCAPNG_BLOCK_LENGTH_MISMATCH: 'PCAPNG_BLOCK_LENGTH_MISMATCH',
  /** The input ends inside a pcapng block. */
  PCAPNG_TRUNCATED_BLOCK: 'PCAPNG_TRUNCATED_BLOCK',
  PCAPNG_BAD_BYTE_ORDER: 'PCAPNG_BAD_BYTE_ORDER',
  PCAPNG_UNSUPPORTED_VERSION: 'PCAPNG_UNSUPPORTED_VERSION',
  /** A packet block names an interface its section never described; the packet is skipped. */
  PCAPNG_UNKNOWN_INTERFACE: 'PCAPNG_UNKNOWN_INTERFACE',
  /** A packet block claims more captured bytes than it holds; the packet is skipped. */
  PCAPNG_CAPLEN_EXCEEDS_BLOCK: 'PCAPNG_CAPLEN_EXCEEDS_BLOCK',
  PCAPNG_CAPLEN_EXCEEDS_SNAPLEN: 'PCAPNG_CAPLEN_EXCEEDS_SNAPLEN',
  PCAPNG_CAPLEN_EXCEEDS_ORIGLEN: 'PCAPNG_CAPLEN_EXCEEDS_ORIGLEN',
  /** An option runs past the end of its block; the remaining options are ignored. */
  PCAPNG_BAD_OPTION: 'PCAPNG_BAD_OPTION',
  /** Reading the input failed part way (I/O error); what was read so far is kept. */
  CAPTURE_READ_ERROR: 'CAPTURE_READ_ERROR',
  /**
   * A packet stamped earlier than the one before it: the count of such steps and the largest, at
   * its packet. Timings across a step are not measured (see flow/analysis.ts).
   */
  CAPTURE_TIME_BACKWARDS: 'CAPTURE_TIME_BACKWARDS',
  /** More diagnostics than MAX_DIAGNOSTICS; the rest were counted, not kept. */
  CAPTURE_DIAGNOSTICS_SUPPRESSED: 'CAPTURE_DIAGNOSTICS_SUPPRESSED',
} as const;
export type CaptureDiagCode = (typeof CAPTURE_DIAG)[keyof typeof CAPTURE_DIAG];

/** The end of every message about a framing error after which nothing more can be read. */
export const CORRUPT_FROM_HERE = 'so the file is corrupt from here on and reading stopped';
/** The end of every message about input that ends inside a record or block. */
export const CUT_SHORT = 'so it was cut short (copied while still being written, a full disk, a capture killed mid-write)';

/** A corrupt file can repeat the same problem per record; keep the first ones and count the rest. */
export const MAX_DIAGNOSTICS = 100;
