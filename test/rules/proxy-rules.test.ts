// Two legs of a proxy in one capture, scripted: a client that gives up and a proxy that drops its
// upstream right after are paired; a proxy that gives up on its own later is not.
import { describe, expect, it } from 'vitest';
import { analyzeConversation, conv } from '../helpers/conversation.js';

const REQUEST = 'GET /report HTTP/1.1\r\nHost: app\r\n\r\n';

function legs(upstreamCloseAfter: number) {
  const down = conv({ client: '10.0.0.1:40000', server: '10.0.0.2:80' }).handshake(0).client('PA', 0.01, REQUEST);
  down.client('FA', 1.01).server('FA', 1.0101).client('A', 1.0102);
  const up = conv({ client: '10.0.0.2:50000', server: '10.0.0.3:8080' }).handshake(0.011).client('PA', 0.012, REQUEST);
  up.client('FA', 1.01 + upstreamCloseAfter).server('FA', 1.0111 + upstreamCloseAfter).client('A', 1.0112 + upstreamCloseAfter);
  return analyzeConversation(down, up);
}

describe('proxy-client-gave-up', () => {
  it('pairs the client leg with the upstream leg the proxy closed 1 ms after its client left', () => {
    const r = legs(0.001);
    const v = r.verdicts.filter((x) => x.code === 'proxy-client-gave-up');
    expect(v).toHaveLength(1);
    expect(v[0]!.facts).toMatchObject({ proxy: '10.0.0.2:80', backend: '10.0.0.3:8080', clientFlow: 1, upstreamFlow: 2, proxyReactionMs: 1, webSocketKey: null });
    expect(v[0]!.summary).toMatch(/^request "GET \/report" through the proxy 10\.0\.0\.2:80: the client gave up after 1\.00 s \(flow 1, FIN #\d+\) and the proxy closed its upstream connection to 10\.0\.0\.3:8080 1\.0 ms later/);
  });

  it('does not pair an upstream the proxy closed a second later on its own', () => {
    expect(legs(1).verdicts.map((x) => x.code)).not.toContain('proxy-client-gave-up');
  });
});
