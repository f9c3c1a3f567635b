import { EP, type Endpoint } from './endpoint.js';

// Zeek's conn_state (base/protocols/conn/main.zeek), decided in the same order.
export const CONN_STATES = ['S0', 'S1', 'SF', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH'] as const;
export type ConnState = (typeof CONN_STATES)[number];

const RSTOS0_HISTORY = /^\^?S[^HAFGIQ]*R.*$/;

export function connState(orig: Endpoint, resp: Endpoint, history: string): ConnState {
  const os = orig.state;
  const rs = resp.state;
  const oInactive = os === EP.INACTIVE || os === EP.PARTIAL;
  const rInactive = rs === EP.INACTIVE || rs === EP.PARTIAL;

  if (rs === EP.RESET) {
    if (os === EP.SYN_SENT || os === EP.SYN_ACK_SENT || (os === EP.RESET && orig.size(resp) === 0 && resp.size(orig) === 0)) return 'REJ';
    return oInactive ? 'RSTRH' : 'RSTR';
  }
  if (os === EP.RESET) {
    if (rInactive) return RSTOS0_HISTORY.test(history) ? 'RSTOS0' : 'OTH';
    return 'RSTO';
  }
  if (rs === EP.CLOSED && os === EP.CLOSED) return 'SF';
  if (os === EP.CLOSED) return rInactive ? 'SH' : 'S2';
  if (rs === EP.CLOSED) return oInactive ? 'SHR' : 'S3';
  if (os === EP.SYN_SENT && rs === EP.INACTIVE) return 'S0';
  if (os === EP.ESTABLISHED && rs === EP.ESTABLISHED) return 'S1';
  return 'OTH';
}
