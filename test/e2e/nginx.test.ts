// Verdicts per leg with real nginx as a reverse proxy on loopback: client -> nginx and
// nginx -> backend are both in each capture and each leg is judged on its own. The same checks run
// on the committed samples/ captures and on fresh ones made by the test.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import type { Verdict } from '../../src/rules/verdict.js';
import { canCapture, removeCaptureDirs, runCaptureScenario } from '../helpers/traffic.js';
import { expectProblemsOnlyFromResends, wireSegments } from '../helpers/wire.js';
import { spawnSync } from 'node:child_process';

const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));

afterAll(removeCaptureDirs);

const hasNginx = spawnSync('nginx', ['-v'], { stdio: 'ignore', timeout: 5_000 }).status === 0;

interface Legs {
  client: FlowResult;
  backend: FlowResult;
  file: string;
  /** Capture-level verdicts. */
  capture: Verdict[];
}

/**
 * Splits the capture into its two legs. With the scenario's ports the legs are named by server
 * port; for committed samples, by order: the client connects to nginx before nginx connects upstream.
 */
function legsOf(file: string, ports: { nginxPort: number; backendPort: number } | null): Legs {
  const { flows, verdicts } = analyzeFile(file);
  expect(flows).toHaveLength(2);
  const bySyn = [...flows].sort((a, b) => a.firstPacket - b.firstPacket);
  const legs = { client: bySyn[0]!, backend: bySyn[1]!, file, capture: verdicts };
  if (ports) {
    expect(legs.client.serverPort).toBe(ports.nginxPort);
    expect(legs.backend.serverPort).toBe(ports.backendPort);
  }
  return legs;
}

const codes = (f: FlowResult) => f.verdicts.map((v) => v.code);
function verdict(f: FlowResult, code: string): Verdict {
  const v = f.verdicts.find((x) => x.code === code);
  if (!v) throw new Error(`flow ${f.id} (${f.client} -> ${f.server}): no ${code} verdict; got ${codes(f).join(', ')}`);
  return v;
}

const CHECKS: Record<string, (legs: Legs) => void> = {
  // proxy_http_version 1.1 with the Upgrade/Connection headers: a clean session on both legs.
  'nginx-ws-good'({ client, backend, file }) {
    const wire = wireSegments(file);
    for (const leg of [client, backend]) {
      expectProblemsOnlyFromResends(leg, wire);
      expect(codes(leg)).toEqual(expect.arrayContaining(['ws-ok', 'ws-close']));
      expect(verdict(leg, 'ws-close').facts).toMatchObject({ code: 1000, initiator: 'client', answered: true });
    }
    expect(backend.app?.http[0]?.request?.version).toBe('1.1');
    expect(client.app?.http[0]?.response?.headers.server).toMatch(/^nginx/);
  },
  // No proxy_http_version: nginx speaks HTTP/1.0 upstream, the Swoole-like backend closes right after
  // its 101, nginx relays the 101 and then the close.
  'nginx-ws-bad'({ client, backend }) {
    expect(verdict(backend, 'ws-upgrade-http10').facts).toMatchObject({ httpVersion: '1.0', connection: 'upgrade' });
    const upstream = verdict(backend, 'ws-fin-after-101');
    expect(upstream.facts).toMatchObject({ closedBy: 'server', how: 'fin', requestHttpVersion: '1.0', server: 'swoole-http-server', serverIsProxy: false });
    expect(upstream.hint).toContain('proxy_http_version 1.1');

    // The client spoke HTTP/1.1 to nginx; what it sees is nginx closing right after the 101.
    expect(codes(client)).not.toContain('ws-upgrade-http10');
    const relayed = verdict(client, 'ws-fin-after-101');
    expect(relayed.facts).toMatchObject({ closedBy: 'server', how: 'fin', requestHttpVersion: '1.1', serverIsProxy: true });
    expect(String(relayed.facts.server)).toMatch(/^nginx/);
    expect(relayed.summary).toMatch(/relayed its upstream's close/);
    expect(relayed.hint).toContain('proxy_http_version 1.1');
    for (const leg of [client, backend]) {
      expect(Number(verdict(leg, 'ws-fin-after-101').facts.delayMs)).toBeLessThan(50);
      expect(codes(leg)).not.toContain('ws-ok');
      expect(codes(leg)).not.toContain('ws-no-close-frame');
    }
    // nginx relays: the upstream FIN comes first, then nginx's FIN to the client.
    expect(backend.serverSide.fin!.ts).toBeLessThan(client.serverSide.fin!.ts);
  },
  // The client gives up on a WebSocket upgrade after 1.5 s; nginx (which logged 499, checked by the
  // scenario in its access log) closes the upstream at once.
  'nginx-499'({ client, backend, capture }) {
    for (const leg of [client, backend]) {
      const v = verdict(leg, 'no-response');
      expect(v.summary).toMatch(/^HTTP request "GET \/ws" \(a WebSocket upgrade\) #\d+ got no response: the client closed \(FIN #\d+\) after 1\.\d\d s/);
      expect(v.facts).toMatchObject({ endedBy: 'client', endHow: 'fin', serverBytes: 0 });
    }
    expect(verdict(client, 'no-response').hint).toContain('499');
    const [pair] = capture.filter((v) => v.code === 'proxy-client-gave-up');
    expect(pair).toBeDefined();
    expect(pair!.facts).toMatchObject({ proxy: client.server, backend: backend.server, clientFlow: client.id, upstreamFlow: backend.id });
    expect(Number(pair!.facts.proxyReactionMs)).toBeLessThan(50);
    expect(pair!.summary).toContain('nginx logs this request as 499');
    expect(codes(client)).not.toContain('http-error');
  },
  // proxy_read_timeout 1s; the backend reads the request and never answers.
  'nginx-504'({ client, backend, capture }) {
    // The proxy timed out and answered 504: nobody gave up on it.
    expect(capture.map((v) => v.code)).not.toContain('proxy-client-gave-up');
    const gateway = verdict(client, 'http-error');
    expect(gateway.severity).toBe('error');
    expect(gateway.facts).toMatchObject({ status: 504, target: '/report', fromProxy: true });
    const clientWait = Number(gateway.facts.waitedMs);
    expect(clientWait).toBeGreaterThan(950);
    expect(clientWait).toBeLessThan(1500);
    expect(gateway.summary).toContain('(proxy_read_timeout)');
    expect(gateway.hint).toMatch(/proxy_read_timeout, set to about 1 s/);

    const unanswered = backend.verdicts.filter((v) => v.code === 'no-response');
    expect(unanswered).toHaveLength(1);
    expect(unanswered[0]!.facts).toMatchObject({ target: '/report', endedBy: 'client', endHow: 'fin', serverBytes: 0 });
    // nginx forwards as HTTP/1.0 (no proxy_http_version in this config).
    expect(unanswered[0]!.facts.httpVersion).toBe('1.0');
    const upstreamWait = Number(unanswered[0]!.facts.waitedMs);
    // Both legs tell the same story: nginx waited its timeout upstream, then answered 504. The
    // client's wait holds the upstream one and nginx's forwarding, which a busy host stretches
    // (116 ms seen under a parallel test run), so it is bounded from below, not matched.
    expect(upstreamWait).toBeGreaterThan(950);
    expect(upstreamWait).toBeLessThan(clientWait + 20);
    expect(codes(backend)).not.toContain('http-error');
  },
};

describe('nginx reverse-proxy verdicts per leg on the committed samples', () => {
  for (const [name, check] of Object.entries(CHECKS)) {
    it(`${name}.pcap`, () => check(legsOf(`${SAMPLES}${name}.pcap`, null)));
  }
});

describe.skipIf(!canCapture() || !hasNginx)('nginx reverse-proxy verdicts per leg on fresh loopback captures', () => {
  for (const [name, check] of Object.entries(CHECKS)) {
    it(`${name} (nginx + backend + ws/http client, tcpdump on lo)`, async () => {
      const run = await runCaptureScenario(name);
      check(legsOf(run.file, run.expect as unknown as { nginxPort: number; backendPort: number }));
    });
  }
});
