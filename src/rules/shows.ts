// What a flow shows, as bits worked out once per flow. Most rules look for one thing a clean flow
// lacks (an RST, a WebSocket, a SYN left unanswered): a rule names it in FlowRule.needs and is not
// asked about a flow that does not show it. The rule modules name these bits as they are loaded,
// so this module imports nothing.

export const SHOWS = {
  /** Marked as a probe of a scan (FlowFacts.scan). */
  SCAN: 1 << 0,
  /** SYNs and no SYN-ACK. */
  SYN_UNANSWERED: 1 << 1,
  /** Two SYNs or more. */
  SYN_RETRIED: 1 << 2,
  /** Two SYN-ACKs or more. */
  SYN_ACK_RESENT: 1 << 3,
  /** A SYN-ACK and no ACK completing the handshake. */
  SYN_ACK_UNACKED: 1 << 4,
  /** Neither SYN nor SYN-ACK. */
  NO_HANDSHAKE: 1 << 5,
  CLIENT_RST: 1 << 6,
  SERVER_RST: 1 << 7,
  /** One side's FIN but not the other's. */
  ONE_FIN: 1 << 8,
  /** Still open when the capture stopped watching it (capture-end.ts endedUnclosed). */
  UNCLOSED: 1 << 9,
  ICMP: 1 << 10,
  /** Goes on from a flow the idle timeout ended (FlowFacts.afterIdle). */
  AFTER_IDLE: 1 << 11,
  /** Its 4-tuple carried an earlier connection shortly before (FlowFacts.reusedAfter). */
  REUSED: 1 << 12,
  /** Its own proof that the capture misses one side (FlowFacts.peerUnseen). */
  PEER_UNSEEN: 1 << 13,
  /** Data sent again, by either side (or Fast Open data the server did not take). */
  RETRANSMITTED: 1 << 14,
  ZERO_WINDOW: 1 << 15,
  /** Client bytes the TCP analysis saw no answer to (TcpAnalysisFacts.unanswered). */
  UNANSWERED: 1 << 16,
  /** A side's second data segment skipped bytes (SideAnalysis.earlyHole). */
  EARLY_HOLE: 1 << 17,
  /** A side's ACK RTT rose above its floor (SideAnalysis.queueRise). */
  QUEUE_RISE: 1 << 18,
  /** A side's small segment waited for the peer's late ACK (SideAnalysis.heldForAck). */
  HELD_FOR_ACK: 1 << 19,
  /** HTTP (AppFacts.protocol), WebSocket and TLS facts. */
  HTTP: 1 << 20,
  WEBSOCKET: 1 << 21,
  TLS: 1 << 22,
  /** The capture holds both directions (Visibility.seen): what FlowRule.needsBothSides asks for. */
  BOTH_SIDES: 1 << 23,
  /** Its packets prove which side is the client (not rolesUnproven): what FlowRule.needsKnownRoles asks for. */
  ROLES_KNOWN: 1 << 24,
  /** A side sent on after its RST (SideFacts.sentAfterRst). */
  FOREIGN_RST: 1 << 25,
} as const;
