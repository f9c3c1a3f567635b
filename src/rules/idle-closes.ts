// Closes of idle connections, as more than one rule judges them: the idle before a server's FIN
// on a connection its client's pool may hold (half-closed and idle-close), a client dropping its
// own idle connection (rst-by-client and idle-close), and the TLS alert a closer ends with.

import type { FlowFacts, PacketRef } from './facts.js';

/** A close counts as an idle close after this long without payload. */
export const IDLE_CLOSE_MIN_MICROS = 2_000_000;

/**
 * How long the connection had been idle when the server's FIN `fin` closed it, when that FIN closed
 * an idle connection a client's pool may hold; null when it did not:
 * - roles the packets prove (a handshake, a request or status line, the connection before an idle);
 * - the server's data came last, answering the client's, and IDLE_CLOSE_MIN_MICROS of silence
 *   followed before the close (a request the server never answered is no idle); a TLS alert the
 *   server ended with (its close_notify), every record of it read, is the close, and the idle ends
 *   there;
 * - the capture holds the server's whole stream (no bytes missed, no segment lost) and the client
 *   acknowledged the FIN;
 * - no upgrade to another protocol (a WebSocket, a tunnel); for HTTP, the last exchange complete and
 *   both its messages asking to keep the connection;
 * - no data from the client after the FIN.
 */
export function idleBeforeServerFin(f: FlowFacts, fin: PacketRef): number | null {
  const provenRoles = f.syns.length > 0 || f.synAcks.length > 0 || f.rolesProvenPacket !== null || f.afterIdle !== null;
  const a = f.analysis;
  const close = a?.close;
  if (!provenRoles || !a || !close || close.by !== 'server' || close.rst || f.app?.upgradedTo) return null;
  const clientData = f.clientSide.lastData;
  const serverData = f.serverSide.lastData;
  if (clientData === null || serverData === null || clientData.ts >= fin.ts) return null;
  const last = serverDataBeforeClose(f, serverData, fin);
  if (last.answeredAt < clientData.ts || last.closedAt - last.idleFrom < IDLE_CLOSE_MIN_MICROS) return null;
  const s = f.serverSide;
  if (s.missedBytes > 0 || s.sentUnseen || !s.ackedWhole || a.lostSegment > 0 || a.ackLostSegment > 0 || s.finResendsUnanswered > 0) return null;
  if (f.app?.protocol === 'http') {
    const last = f.app.http.at(-1);
    if (!last || last.closeAfter !== 'response' || !last.request?.keepAlive || !last.response?.keepAlive) return null;
  }
  return last.closedAt - last.idleFrom;
}

/**
 * The server's last data before its close at `fin`, leaving out the TLS alerts it ended with
 * (closingAlert): when its last other record began (`answeredAt`, what must follow the client's
 * last data), when the idle began (that record may have gone out in pieces: no earlier than the
 * quiet before the alert, where the flow's longest quiet ends at the alert), and when the server
 * closed (the alert, else the FIN).
 */
function serverDataBeforeClose(f: FlowFacts, last: PacketRef, fin: PacketRef): { answeredAt: number; idleFrom: number; closedAt: number } {
  const alert = closingAlert(f, 'server');
  if (!alert) return { answeredAt: last.ts, idleFrom: last.ts, closedAt: fin.ts };
  const idleFrom = alert.quietFrom !== null ? Math.max(alert.began, alert.quietFrom) : alert.began;
  return { answeredAt: alert.began, idleFrom, closedAt: alert.ts };
}

/** A side's closing TLS alert (see closingAlert). */
export interface ClosingAlert {
  no: number;
  ts: number;
  /** When the side's last other record began. */
  began: number;
  /** When the quiet before the alert began, where the flow's longest quiet ends at the alert; null otherwise. */
  quietFrom: number | null;
}

/**
 * The TLS alert (close_notify, or in TLS 1.3 a record of an alert's size) that `side` ended its
 * data with, every record of it read and none of it missed; null otherwise.
 */
export function closingAlert(f: FlowFacts, side: 'client' | 'server'): ClosingAlert | null {
  const tls = f.app?.tls;
  const closing = f.app?.tlsClosing;
  const alert = closing?.lastAlert[side];
  const began = closing?.otherRecordsTs[side] ?? 0;
  const lastData = side === 'client' ? f.clientSide.lastData : f.serverSide.lastData;
  if (!tls || !alert || alert.no !== lastData?.no || tls.missed[side] !== null || tls.malformed !== null || began === 0) return null;
  const quiet = f.analysis?.idle;
  return { no: alert.no, ts: alert.ts, began, quietFrom: quiet && quiet.toPacket === alert.no ? alert.ts - quiet.longestMs * 1000 : null };
}

/**
 * The client's RST at `rstTs` dropped a connection with nothing in flight: the client's only RST,
 * with the TTL of its own packets (a firewall or NAT resetting in its name often has another); the
 * client had acknowledged all the server sent, and the server sent nothing after the RST; and the
 * capture missed none of the client's bytes (a request it does not hold may be what went unanswered).
 */
export function clientDroppedIdle(f: FlowFacts, rstTs: number): boolean {
  const c = f.clientSide;
  const s = f.serverSide;
  return c.rsts === 1 && !c.sentAfterRst && c.rstTtl === c.ttl && s.ackedWhole && s.lastTs <= rstTs && c.missedBytes === 0 && !c.sentUnseen;
}
