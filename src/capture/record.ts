// What every capture source (pcap, pcapng, live) hands to the decoder.
// A PacketRecord is a reused view: its bytes are valid only until the callback that received it
// returns (pcapgo's ZeroCopyReadPacketData contract). Whoever keeps bytes copies them.

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_ALT12: 12,
  RAW_ALT14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcap-modified' | 'pcapng' | 'live';

export interface PacketRecord {
  /** 1-based packet number, as Wireshark's frame number. */
  no: number;
  /** Integer microseconds since the Unix epoch. */
  tsMicros: number;
  caplen: number;
  origLen: number;
  linkType: number;
  interfaceId: number;
  /** Packet data is bytes[off, end); end - off === caplen. */
  bytes: Uint8Array;
  off: number;
  end: number;
  /** Byte offset of the record (pcap) or block (pcapng) header in the input. */
  fileOffset: number;
  /**
   * Packets the capturing tool says it lost on this packet's interface since that interface's
   * previous packet (a pcapng packet block's drop count: epb_dropcount, or the obsolete packet
   * block's); 0 when it says none or nothing.
   */
  droppedBefore: number;
  /** The number and time of that previous packet (0: none), after which the lost packets came. */
  droppedSincePacket: number;
  droppedSinceTs: number;
}

export interface CaptureDiagnostic {
  /** Stable SCREAMING_SNAKE code, e.g. PCAP_TRUNCATED_RECORD. */
  code: string;
  /** Full sentence naming the file, packet number and byte offset. */
  message: string;
  /** Packet number the problem belongs to (the next packet when between packets), 0 for the file header. */
  packet: number;
  /** Byte offset in the input. */
  offset: number;
}

export interface CaptureInfo {
  file: string;
  format: CaptureFormat | null;
  /** Distinct link types seen in interface descriptions / the file header, in order of appearance. */
  linkTypes: number[];
  /** Snap length of the first interface (0 when unknown). */
  snaplen: number;
  /** Records delivered to the callback. */
  packets: number;
  /** Records whose caplen < origLen (cut by the snap length). */
  truncatedPackets: number;
  /** Of those, records stored shorter than their interface's snap length too: cut or damaged after the capture, not by its snap length. */
  truncatedBelowSnaplen: number;
  diagnostics: CaptureDiagnostic[];
  /** True when reading stopped early because the rest of the input could not be parsed. */
  stoppedEarly: boolean;
  /** The packets the capturing tool says it dropped; null (or absent) when the file says nothing of drops, as a pcap file never does. */
  dropped?: CaptureDrops | null;
}

/**
 * The packets the capturing tool says it dropped. In a pcapng file: each interface's last
 * statistics block (isb_ifdrop, by the interface or its buffer, plus isb_osdrop, by the operating
 * system; dumpcap writes libpcap's kernel-buffer drops as isb_ifdrop), and drop counts on packet
 * blocks (epb_dropcount, the obsolete packet block's 16-bit count), each the packets lost just
 * before that packet. In a live capture: libpcap's count of the packets the kernel dropped
 * because its buffer was full.
 */
export interface CaptureDrops {
  /** The packets the capture lacks by its tool's own word: per interface the larger of the two counts below (which may count the same losses), summed over interfaces. */
  packets: number;
  /** Of those, the statistics' counts (a pcapng file's interface statistics, or libpcap's in a live capture), summed over interfaces and sections. */
  inStatistics: number;
  /** The packet blocks' counts, summed. */
  beforePackets: number;
  /** The first packet a packet block's count says came after lost packets (0: none says). */
  firstAfterLoss: number;
  /** Where the counts come from: the file read, or the live capture's libpcap. */
  source: 'file' | 'live';
  /** Interfaces that carried packets, and how many of them have a drop count for the packets here (0 included). */
  interfaces: number;
  counted: number;
  /**
   * Statistics that count more packets received on an interface than the file holds of it (plus
   * their drops): they describe a larger capture the file was cut from, so their drop count is
   * that capture's, left out of the counts above. Null when there are none.
   */
  largerCapture: { interfaces: number; received: number; held: number; dropped: number } | null;
}

/** Thrown when nothing in the input is readable as a capture (missing file, empty, wrong magic). */
export class CaptureOpenError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'CaptureOpenError';
  }
}

export type PacketCallback = (rec: PacketRecord) => void;
