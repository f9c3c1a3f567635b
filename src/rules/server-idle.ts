// When a server closed a connection its client's pool may hold: the idle before its FIN, as
// half-closed (rules.ts) and idle-close (tcp-rules.ts) both judge it.

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
 * The server's last data before its close at `fin`, leaving out the TLS alerts it ended with when
 * every record of it was read: when its last other record began (`answeredAt`, what must follow the
 * client's last data), when the idle began (that record may have gone out in pieces: no earlier
 * than the quiet before the alert, where the flow's longest quiet ends at the alert), and when the
 * server closed (the alert, else the FIN).
 */
function serverDataBeforeClose(f: FlowFacts, last: PacketRef, fin: PacketRef): { answeredAt: number; idleFrom: number; closedAt: number } {
  const tls = f.app?.tls;
  const closing = f.app?.tlsClosing;
  const alert = closing?.lastAlert.server;
  const began = closing?.otherRecordsTs.server ?? 0;
  if (!tls || !closing || !alert || alert.no !== last.no || tls.missed.server !== null || tls.malformed !== null || began === 0) {
    return { answeredAt: last.ts, idleFrom: last.ts, closedAt: fin.ts };
  }
  const quiet = f.analysis?.idle;
  const idleFrom = quiet && quiet.toPacket === alert.no ? Math.max(began, alert.ts - quiet.longestMs * 1000) : began;
  return { answeredAt: began, idleFrom, closedAt: alert.ts };
}
