import { unansweredHttpRequest } from './app-rules.js';
import type { CaptureRule } from './capture-rules.js';
import type { FlowFacts } from './facts.js';
import { fmtDuration, ms } from './format.js';
import type { Verdict } from './verdict.js';

// Both legs of a proxy in one capture: a client gave up on a request the proxy had passed on, and
// the proxy dropped its upstream connection right after. The client leg and the upstream leg each
// show an unanswered request; together they say where the time went and what the proxy logged
// (nginx: 499, client closed request).

/** The proxy closes its upstream this soon after its client left (nginx does so at once). */
const PROXY_REACTION_MICROS = 200_000;
/** The proxy passes the request on this soon after it arrived (without a key to match legs by). */
const PROXY_FORWARD_MICROS = 1_000_000;
/** Unanswered requests kept to pair; beyond, the rule stops looking. */
const MAX_KEPT = 2_000;

interface Leg {
  id: number;
  client: string;
  server: string;
  clientIp: string;
  serverIp: string;
  method: string;
  target: string;
  key: string | null;
  requestNo: number;
  requestTs: number;
  closeNo: number;
  closeTs: number;
  waited: number;
}

export const proxyClientGaveUp: CaptureRule = {
  code: 'proxy-client-gave-up',
  start() {
    const legs: Leg[] = [];
    return {
      observe(f, ctx) {
        if (legs.length >= MAX_KEPT || !('app' in f)) return;
        const facts = f as FlowFacts;
        const hit = unansweredHttpRequest(facts, ctx.captureEnd);
        if (!hit || !hit.endedBy || hit.endedBy.dir !== 0) return;
        const req = hit.ex.request!;
        legs.push({
          id: facts.id,
          client: facts.client,
          server: facts.server,
          clientIp: facts.clientIp,
          serverIp: facts.serverIp,
          method: req.method,
          target: req.target,
          key: req.headers['sec-websocket-key'] ?? null,
          requestNo: req.packet,
          requestTs: hit.ex.timing.requestEndAt!,
          closeNo: hit.endedBy.no,
          closeTs: hit.endedBy.tsMicros,
          waited: hit.waited,
        });
      },
      retained: () => legs.length,
      verdicts() {
        const out: Verdict[] = [];
        const used = new Set<number>();
        const byRequest = [...legs].sort((a, b) => a.requestTs - b.requestTs);
        for (const down of byRequest) {
          if (used.has(down.id)) continue;
          const up = byRequest.find((u) => !used.has(u.id) && u.id !== down.id && isUpstreamOf(u, down));
          if (!up) continue;
          used.add(down.id).add(up.id);
          out.push(verdictFor(down, up));
        }
        return out;
      },
    };
  },
};

/** `up` is the proxy's connection onward for `down`'s request, closed because `down`'s client left. */
function isUpstreamOf(up: Leg, down: Leg): boolean {
  if (up.clientIp !== down.serverIp || up.server === down.server) return false;
  const sameRequest = down.key !== null ? up.key === down.key : up.method === down.method && up.target === down.target && up.requestTs >= down.requestTs && up.requestTs - down.requestTs <= PROXY_FORWARD_MICROS;
  const reaction = up.closeTs - down.closeTs;
  return sameRequest && reaction >= 0 && reaction <= PROXY_REACTION_MICROS;
}

function verdictFor(down: Leg, up: Leg): Verdict {
  const upgrade = down.key !== null ? ' (a WebSocket upgrade)' : '';
  return {
    code: 'proxy-client-gave-up',
    severity: 'error',
    summary: `request "${down.method} ${down.target}"${upgrade} through the proxy ${down.server}: the client gave up after ${fmtDuration(down.waited)} (flow ${down.id}, FIN #${down.closeNo}) and the proxy closed its upstream connection to ${up.server} ${fmtDuration(up.closeTs - down.closeTs)} later (flow ${up.id}, FIN #${up.closeNo}); the backend never answered. nginx logs this request as 499`,
    packets: [down.requestNo, up.requestNo, down.closeNo, up.closeNo],
    facts: { proxy: down.server, backend: up.server, clientFlow: down.id, upstreamFlow: up.id, clientWaitedMs: ms(down.waited), upstreamWaitedMs: ms(up.waited), proxyReactionMs: ms(up.closeTs - down.closeTs), webSocketKey: down.key },
    hint: `The backend ${up.server} is slow or hung: the client's own timeout (about ${fmtDuration(down.waited)}) ran out first, and the proxy then dropped the upstream request (nginx does unless proxy_ignore_client_abort is on). Look at the backend at that time; a longer client timeout only hides it.`,
  };
}
