// The walk position shared by the layer decoders of one PacketDecoder. Reused for every packet.
//
// `end` is where captured bytes stop for the current layer (already trimmed to the length the
// enclosing headers claim, so Ethernet padding never reaches TCP). `wireEnd` is where the layer
// would end on the wire according to those headers: it is larger than `end` when the snap length
// cut the packet, and it is what payload lengths are computed from.
export class Cursor {
  /** Start of the next header to decode, absolute in the record's bytes. */
  off = 0;
  end = 0;
  wireEnd = 0;
  /** Start of the packet, so malformed offsets can be reported relative to it. */
  packetStart = 0;
  /** What the next header is: an ethertype at the network layer, an IP protocol number above it. */
  next = 0;
  /** Packet time, for fragment reassembly's timeout. */
  tsMicros = 0;

  reset(off: number, end: number, wireEnd: number, tsMicros = this.tsMicros): void {
    this.tsMicros = tsMicros;
    this.off = off;
    this.end = end;
    this.wireEnd = wireEnd;
    this.packetStart = off;
    this.next = 0;
  }
}
