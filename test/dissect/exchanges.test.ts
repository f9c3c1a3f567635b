import { describe, expect, it } from 'vitest';
import type { CaptureInfo } from '../../src/capture/record.js';
import { Analyzer, type AnalysisResult } from '../../src/pipeline.js';
import { conv, type Conversation } from '../helpers/conversation.js';
import { toRecord } from '../helpers/packets.js';

// A keep-alive connection keeps, by default, only the HTTP exchanges the rules and the default
// reports read (see src/dissect/exchanges.ts); every verdict must read exactly as it does with the
// whole list that --detail shows.

const BASE_MICROS = 1_700_000_000_000_000;

function analyze(keepExchanges: boolean, ...convs: Conversation[]): AnalysisResult {
  const analyzer = new Analyzer({ file: 'keep-alive.pcap', keepExchanges });
  const packets = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
  packets.forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: BASE_MICROS + Math.round(p.t * 1e6) })));
  const info: CaptureInfo = { file: 'keep-alive.pcap', format: 'pcap', linkTypes: [1], snaplen: 262144, packets: packets.length, truncatedPackets: 0, diagnostics: [], stoppedEarly: false };
  return analyzer.finish(info);
}

const request = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${extra}\r\n`;
const response = (status: number, reason: string, body = 'ok', extra = '') => `HTTP/1.1 ${status} ${reason}\r\nServer: nginx\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

/**
 * `count` exchanges, each request acknowledged at once; `answers` gives some of them another status
 * or a longer wait (seconds). Returns the time after the last one.
 */
function exchanges(c: Conversation, t: number, count: number, answers: Record<number, { status?: number; reason?: string; wait?: number }> = {}): number {
  for (let i = 0; i < count; i++) {
    const a = answers[i] ?? {};
    c.client('PA', t, request(`/item/${i}`)).server('A', t + 0.0005);
    t += a.wait ?? 0.01;
    c.server('PA', t, response(a.status ?? 200, a.reason ?? 'OK')).client('A', t + 0.0005);
    t += 0.01;
  }
  return t;
}

const shown = (r: AnalysisResult) => r.flows.map((f) => f.verdicts.map((v) => ({ code: v.code, severity: v.severity, summary: v.summary, packets: v.packets, facts: v.facts, hint: v.hint })));

describe('lean HTTP exchanges', () => {
  it('keep the verdicts of a keep-alive connection with errors, slow answers and a last request unanswered', () => {
    const c = conv().handshake(0, 0.001);
    // Two answers over the 1 s floor (the slowest in the middle), three errors, then a request the client gives up on.
    let t = exchanges(c, 0.01, 60, { 5: { status: 404, reason: 'Not Found' }, 12: { status: 503, reason: 'Service Unavailable' }, 20: { wait: 2 }, 33: { wait: 3.5 }, 41: { status: 404, reason: 'Not Found' }, 50: { wait: 1.5 } });
    c.client('PA', t, request('/never')).server('A', t + 0.0005);
    t += 6;
    c.client('FA', t).server('FA', t + 0.0005).client('A', t + 0.001);
    const full = analyze(true, c);
    const lean = analyze(false, c);
    expect(shown(lean)).toEqual(shown(full));
    expect(full.flows[0].verdicts.map((v) => v.code).sort()).toEqual(['clean-close', 'http-error', 'no-response', 'slow-server']);
    const slow = full.flows[0].verdicts.find((v) => v.code === 'slow-server')!;
    expect(slow.facts).toMatchObject({ slowAnswers: 3, answers: 60 });
    expect(slow.summary).toContain('GET /item/33');
    expect(full.flows[0].verdicts.find((v) => v.code === 'http-error')!.facts).toMatchObject({ errorResponses: 3, statuses: [404, 503, 404] });
    // Kept: the first exchange, the three errors, the slowest answer, the last answered one and the unanswered request.
    expect(full.flows[0].app!.http).toHaveLength(61);
    expect(lean.flows[0].app!.http.map((ex) => ex.request?.target)).toEqual(['/item/0', '/item/5', '/item/12', '/item/33', '/item/41', '/item/59', '/never']);
    expect(lean.flows[0].app!.httpTurns).toEqual({ answered: 60, slow: 3 });
  });

  it('keep the verdicts of a response cut short after many answered ones, and of a refused WebSocket upgrade', () => {
    const cut = conv({ client: '10.0.0.1:51001' }).handshake(0, 0.001);
    let t = exchanges(cut, 0.01, 30);
    cut.client('PA', t, request('/big')).server('A', t + 0.0005).server('PA', t + 0.01, response(200, 'OK', 'x'.repeat(100)).slice(0, -60)).server('FA', t + 0.02).client('A', t + 0.021);
    const ws = conv({ client: '10.0.0.1:51002' }).handshake(0, 0.001);
    t = exchanges(ws, 0.01, 25);
    const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
    ws.client('PA', t, request('/socket', upgrade)).server('PA', t + 0.01, response(403, 'Forbidden', 'no')).client('A', t + 0.011);
    t = exchanges(ws, t + 0.02, 10);
    ws.client('FA', t).server('FA', t + 0.0005).client('A', t + 0.001);
    const full = analyze(true, cut, ws);
    const lean = analyze(false, cut, ws);
    expect(shown(lean)).toEqual(shown(full));
    expect(full.flows.map((f) => f.verdicts.filter((v) => v.severity !== 'info').map((v) => v.code))).toEqual([['response-cut-short'], ['ws-upgrade-rejected']]);
    expect(lean.flows.map((f) => f.app!.http.length)).toEqual([2, 3]);
    expect(full.flows.map((f) => f.app!.http.length)).toEqual([31, 36]);
  });

  it('keep, once the connection ended, only the exchanges read however few there were, with the same verdicts', () => {
    // Five exchanges (a 404, an answer over the 1 s floor), then a clean close: the flow lingers 5 s with its facts.
    const c = conv().handshake(0, 0.001);
    const t = exchanges(c, 0.01, 5, { 1: { status: 404, reason: 'Not Found' }, 2: { wait: 2 } });
    c.client('FA', t).server('FA', t + 0.0005).client('A', t + 0.001);
    const full = analyze(true, c);
    const lean = analyze(false, c);
    expect(shown(lean)).toEqual(shown(full));
    expect(full.flows[0].verdicts.map((v) => v.code).sort()).toEqual(['clean-close', 'http-error', 'slow-server']);
    expect(full.flows[0].app!.http).toHaveLength(5);
    // Kept: the first exchange, the error, the slowest answer and the last answered one.
    expect(lean.flows[0].app!.http.map((ex) => ex.request?.target)).toEqual(['/item/0', '/item/1', '/item/2', '/item/4']);
    expect(lean.flows[0].app!.httpTurns).toEqual({ answered: 5, slow: 1 });
  });
});
