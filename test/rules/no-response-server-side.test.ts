// no-response told by the server's packets alone, in a capture that holds none of the client's.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeFrames, conv } from '../helpers/conversation.js';

const request = 'GET / HTTP/1.1\r\nHost: app\r\n\r\n';

/** A connection whose request the server ACKs; `then` adds what follows. Only the server's packets are kept. */
function serverSideOnly(then: (c: ReturnType<typeof conv>) => void) {
  const c = conv({ client: '10.5.0.1:51000', server: '10.5.0.2:80' });
  const serverCalls = new Set<number>();
  const server = c.server.bind(c);
  c.server = (...args: Parameters<typeof server>) => {
    serverCalls.add(c.packets.length);
    return server(...args);
  };
  c.client('S', 0).server('SA', 0.001).client('A', 0.002).client('PA', 0.003, request).server('A', 0.004);
  then(c);
  return analyzeFrames(c.packets.filter((_, i) => serverCalls.has(i)));
}
const verdictsOf = (r: ReturnType<typeof analyzeFrames>) => r.flows[0].verdicts.map((v) => v.code);

describe('no-response seen from the server side only', () => {
  it('is said of a real inbound-only capture of a silent server', () => {
    const r = analyzeFile(fileURLToPath(new URL('../../samples/no-response-server-side.pcap', import.meta.url)));
    const v = r.flows[0].verdicts.find((x) => x.code === 'no-response');
    expect(v?.severity).toBe('warning');
    expect(v?.packets).toEqual([1, 2, 3]);
    expect(v?.facts).toMatchObject({ ackedPacket: 2, requestBytes: 29, seenFrom: 'server' });
    expect(v?.summary).toMatch(/^the server's TCP acknowledged 29 bytes from the client \(#2\), then sent no byte back in the 3\.0\d s its packets cover, to #3: its sequence number never moved past its SYN-ACK #1; its last packet acknowledges one more/);
  });

  it('is not said when the server answered, when the client went on sending, within a second, or of a FIN alone', () => {
    expect(verdictsOf(serverSideOnly((c) => c.client('FA', 4).server('A', 4.001)))).toContain('no-response');
    expect(verdictsOf(serverSideOnly((c) => c.server('PA', 2, 'HTTP/1.1 200 OK\r\n\r\n').client('FA', 4).server('A', 4.001)))).not.toContain('no-response');
    expect(verdictsOf(serverSideOnly((c) => c.client('PA', 2, 'more').server('A', 2.001).client('FA', 4).server('A', 4.001)))).not.toContain('no-response');
    expect(verdictsOf(serverSideOnly((c) => c.client('FA', 0.5).server('A', 0.501)))).not.toContain('no-response');
    // A client that connected and closed without a byte: the server's ACK moved by its FIN alone.
    const c = conv({ client: '10.5.0.1:51000', server: '10.5.0.2:80' }).client('S', 0).server('SA', 0.001).client('A', 0.002).client('FA', 0.003).server('A', 0.004).server('A', 4);
    expect(analyzeFrames([c.packets[1], c.packets[4], c.packets[5]]).flows[0].verdicts.map((v) => v.code)).not.toContain('no-response');
  });

});
