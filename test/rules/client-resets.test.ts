// A client's RST that cuts nothing off (a connect-only check, a reset after the server's whole
// answer and FIN) is info; one that may cut something (a response in progress, a wait) stays a warning.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { changeCipherSpec, clientHello, concat, encrypted, encryptedAlert, serverHello } from '../helpers/tls-records.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus = useCorpus();
const corpus2 = useCorpus('corpus2');

const rstVerdict = (f: FlowResult) => f.verdicts.find((v) => v.code === 'rst-by-client');

describe('client resets in a capture of HAProxy health checks and node clients', () => {
  // samples/client-resets.pcap: HAProxy's TCP checks of one backend, its HTTP checks of another,
  // two node port checks of the first, and a node client that resets after a whole HTTP/1.0 answer.
  const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/client-resets.pcap', import.meta.url)));
  const byHistory = (history: string) => flows.filter((f) => f.history === history);

  it('says a TCP health check that resets in place of the final ACK is a connect-only check, as info', () => {
    const checks = byHistory('ShR');
    expect(checks.length).toBeGreaterThanOrEqual(3);
    for (const f of checks) {
      expect(rstVerdict(f)?.severity).toBe('info');
      expect(rstVerdict(f)?.summary).toMatch(/as the handshake's final ACK: a connect-only check\)$/);
    }
  });

  it('says the same of a port check that completes the handshake and resets within a millisecond', () => {
    const checks = byHistory('ShAR');
    expect(checks).toHaveLength(2);
    for (const f of checks) {
      expect(rstVerdict(f)?.severity).toBe('info');
      expect(rstVerdict(f)?.hint).toMatch(/health checks/);
    }
  });

  it('keeps a warning for HTTP health checks that reset once they have read the status line, naming health checks in the fix', () => {
    const cut = byHistory('ShDadR');
    expect(cut.length).toBeGreaterThanOrEqual(1);
    for (const f of cut) {
      expect(rstVerdict(f)?.severity).toBe('warning');
      expect(rstVerdict(f)?.hint).toMatch(/load balancers end their health checks this way/);
    }
  });

  it('says a reset after the whole answer and the server\'s FIN cut nothing off', () => {
    const [f] = byHistory('ShADadfR');
    expect(rstVerdict(f)?.severity).toBe('info');
    expect(rstVerdict(f)?.summary).toMatch(/after the server's FIN #\d+, .*the server had sent all it had and closed: the RST cut nothing off\)$/);
  });
});

describe('client resets that may cut something stay warnings', () => {
  const clientRst = (c: ReturnType<typeof conv>) => rstVerdict(analyzeConversation(c).flows[0]);

  it('a reset long after the handshake, with nothing sent: the client waited for something (a banner) first', () => {
    expect(clientRst(conv().handshake(0).client('R', 2))?.severity).toBe('warning');
    expect(clientRst(conv().handshake(0).client('R', 0.005))?.severity).toBe('info');
  });

  it('a reset after the server\'s FIN while an HTTP answer was still incomplete', () => {
    const partial = 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly part';
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, partial).server('FA', 0.03).client('R', 0.04);
    expect(clientRst(c)?.severity).toBe('warning');
  });

  it('a reset after the server\'s FIN that acknowledges only part of what the server sent, or nothing', () => {
    const answer = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody';
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const before = c.s.next;
    c.server('PA', 0.02, answer).server('FA', 0.03);
    // The client's RST acknowledges none of the answer: it had not read it.
    expect(clientRst(c.client('RA', 0.04, '', { ack: before }))?.severity).toBe('warning');
    const all = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, answer).server('FA', 0.03);
    expect(clientRst(all.client('RA', 0.04))?.severity).toBe('info');
    // An RST without an ACK proves nothing of what the client had read.
    const bare = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, answer).server('FA', 0.03);
    expect(clientRst(bare.client('R', 0.04))?.severity).toBe('warning');
  });

  it('a reset right after a handshake that took SYN retries: the client may have given up waiting', () => {
    const retried = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).server('SA', 1.001).client('A', 1.002).client('R', 1.003);
    expect(clientRst(retried)?.severity).toBe('warning');
  });

  it('a reset by a client that was still sending after the server\'s FIN', () => {
    const c = conv().handshake(0).server('FA', 0.01).client('PA', 0.02, 'late bytes').client('R', 0.03);
    expect(clientRst(c)?.severity).toBe('warning');
  });
});

describe('client resets before the server\'s FIN, after an answer that announced the close', () => {
  const request = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
  /** The answer, the client's RST (acknowledging it all, or none of it), and the server's FIN 200 ms later. */
  const clientRstAfter = (answer: string, rstAcksAnswer = true) => {
    const c = conv().handshake(0).client('PA', 0.01, request);
    const before = c.s.next;
    c.server('PA', 0.02, answer).client('A', 0.021);
    c.client('RA', 0.0213, '', rstAcksAnswer ? {} : { ack: before }).server('FA', 0.22);
    return rstVerdict(analyzeConversation(c).flows[0]);
  };

  it("names the side of the last data before the RST when the other side's data goes on past it: only each side's first and last data are known", () => {
    // The server's data is before and after the client's RST; the client's last data is before it.
    const c = conv().handshake(0).client('PA', 0.01, request).server('PA', 0.02, 'x'.repeat(100)).client('A', 0.021);
    c.server('PA', 0.05, 'y'.repeat(100)).client('RA', 0.1, '', { ack: c.s.next }).server('PA', 0.2, 'z'.repeat(100));
    const v = rstVerdict(analyzeConversation(c).flows[0]);
    expect(v?.summary).toBe("connection reset by the client (RST #8, 90 ms after the client's last data #4)");
  });

  it('says an RST acknowledging the whole answer cut nothing off, as HAProxy drops its server connection after Connection: close', () => {
    const v = clientRstAfter('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    expect(v?.severity).toBe('info');
    expect(v?.summary).toBe('connection reset by the client (RST #7, 1.3 ms after the last data #5, after the whole answer #5, which announced the close (Connection: close): the RST cut nothing off)');
    expect(v?.hint).toMatch(/HAProxy drops its server connection/);
  });

  it('says the same after an HTTP/1.0 answer without keep-alive', () => {
    expect(clientRstAfter('HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello')?.summary).toMatch(/which announced the close \(HTTP\/1\.0\): the RST cut nothing off\)$/);
  });

  it('keeps a warning when the answer kept the connection alive, was cut short, or the RST leaves server bytes unacknowledged', () => {
    expect(clientRstAfter('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello')?.severity).toBe('warning');
    expect(clientRstAfter('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nhello')?.severity).toBe('warning');
    expect(clientRstAfter('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello', false)?.severity).toBe('warning');
  });
});

describe('a client dropping an idle keep-alive connection with an RST', () => {
  /** Two requests answered whole and kept alive, then the client's RST `after` s after the last byte (a bare RST, or RST/ACK). */
  const dropped = (after: number, flags = 'R', answer = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello') => {
    const c = conv().handshake(0);
    c.client('PA', 0.01, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok').client('A', 0.03);
    c.client('PA', 1, 'GET /b HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 1.01, answer).client('A', 1.02);
    // A bare RST's acknowledgement field is not one: it carries whatever the stack left there.
    c.client(flags, 1.01 + after, '', flags === 'R' ? { ack: 0x1234_5678 } : {});
    return analyzeConversation(c).flows[0];
  };

  it('is info when every request had its whole answer, all acknowledged, and the connection sat idle (PPA evilprogram flows 24, 25, 32, 83)', () => {
    const f = dropped(1.5);
    const v = rstVerdict(f)!;
    expect(v.severity).toBe('info');
    expect(v.summary).toBe('connection reset by the client (RST #10, 1.50 s after the last data #8, after every request on it had its whole answer (the last #8, keeping the connection): the client dropped the idle connection, cutting nothing off)');
    expect(v.hint).toMatch(/^The client closed a keep-alive connection it no longer needed with an RST/);
    expect(rstVerdict(dropped(0.8, 'RA'))!.severity).toBe('info');
  });

  it('is info for idle-close too: no one trips over a connection its own client dropped', () => {
    const v = dropped(3).verdicts.find((x) => x.code === 'idle-close')!;
    expect([v.severity, v.facts.closer, v.facts.how]).toEqual(['info', 'client', 'rst']);
  });

  it('stays a warning when the capture missed a request the server acknowledged, when the RST has another TTL than the client\'s packets, or when server data crossed it', () => {
    const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    // GET /b is not in the capture, though the server acknowledged it: the client gave up on it 6 s later.
    const missed = conv().handshake(0);
    missed.client('PA', 0.01, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, ok).client('A', 0.03);
    const at = missed.packets.length;
    missed.client('PA', 1, 'GET /b HTTP/1.1\r\nHost: a\r\n\r\n');
    missed.packets.splice(at, 1);
    missed.server('A', 1.01).client('RA', 7);
    expect(rstVerdict(analyzeConversation(missed).flows[0])!.severity).toBe('warning');
    // A firewall's idle timeout resetting in the client's name: TTL 254 where the client's packets have 64.
    const foreign = conv().handshake(0);
    foreign.client('PA', 0.01, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, ok).client('A', 0.03).client('RA', 120.03, '', { ttl: 254, ipId: 0 });
    const f = analyzeConversation(foreign).flows[0];
    expect(rstVerdict(f)!.severity).toBe('warning');
    expect(f.verdicts.find((x) => x.code === 'idle-close')!.severity).toBe('warning');
    // Not HTTP: the server's data crossed the client's RST after 30 s idle, and was never read.
    const crossed = conv({ server: '10.0.0.2:5432' }).handshake(0);
    crossed.client('PA', 0.01, 'hello').server('PA', 0.02, 'world').client('A', 0.03).client('RA', 30.03).server('PA', 30.031, 'notification');
    expect(analyzeConversation(crossed).flows[0].verdicts.find((x) => x.code === 'idle-close')!.severity).toBe('warning');
  });

  it('stays a warning for an RST as the answer came, or after an answer cut short', () => {
    expect(rstVerdict(dropped(0.1))!.severity).toBe('warning');
    expect(rstVerdict(dropped(1.5, 'R', 'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nhello'))!.severity).toBe('warning');
  });
});

describe('a reset in a capture that started mid-connection', () => {
  it('claims no unanswered request, names the resetting host as info (the roles are a guess), and places the RST among the data it cut', () => {
    // The capture starts in a download: the first packet's sender, taken for the client, is the one sending.
    const c = conv({ client: '10.6.0.2:43151', server: '10.6.0.1:57916' });
    const seq = 1_000_000;
    c.client('A', 0, 'd'.repeat(1000), { seq, ack: 5000 }).client('A', 0.1, 'd'.repeat(1000), { seq: seq + 1000, ack: 5000 });
    c.server('FA', 0.15, '', { seq: 5000, ack: seq + 2000 }).client('A', 0.2, 'd'.repeat(1000), { seq: seq + 2000, ack: 5001 });
    c.server('R', 0.2001, '', { seq: 5001 }).client('A', 0.3, 'd'.repeat(1000), { seq: seq + 3000, ack: 5001 });
    const v = analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'rst-by-server');
    expect(v?.severity).toBe('info');
    expect(v?.summary).not.toContain('the request got no answer');
    expect(v?.summary).toMatch(/^connection reset by 10\.6\.0\.1:57916 \(RST #5, after its own FIN #3, while data was flowing \(from #1\)\); which side is the client is a guess/);
  });

  it('keeps the unanswered request when the ports bear out the guessed roles (a service port, an ephemeral client port)', () => {
    const c = conv({ client: '127.0.0.1:64739', server: '127.0.0.1:8765' });
    c.client('PA', 0, 'GET /ws HTTP/1.1\r\nHost: x\r\n\r\n', { seq: 1000, ack: 5000 }).server('RA', 0.00005, '', { seq: 5000, ack: 1029 });
    const v = analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'rst-by-server');
    expect(v?.severity).toBe('error');
    expect(v?.summary).toContain('the request got no answer');
  });

  it("says the server's TCP had no such connection when all it sent is a bare RST answering the client's segment", () => {
    // As in onewesong's websocket.pcap: a client writes on a connection the server has forgotten,
    // and the server's kernel answers with no ACK and the segment's acknowledgement as its sequence number.
    const stale = (rst: { seq: number }) => {
      const c = conv({ client: '127.0.0.1:64739', server: '127.0.0.1:8765' });
      c.client('PA', 0, 'GET /ws HTTP/1.1\r\nHost: x\r\n\r\n', { seq: 1000, ack: 5000 }).server('R', 0.00005, '', rst);
      return analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'rst-by-server')!;
    };
    const v = stale({ seq: 5000 });
    expect(v.severity).toBe('error');
    expect(v.summary).toBe("connection reset by the server (RST #2, 0.05 ms after the last data #1, the server's TCP had no such connection: the RST carries no ACK, and as its sequence number the acknowledgement number of the client's segment before it)");
    expect(v.hint).toMatch(/^The server's TCP no longer had this connection when the client wrote on it/);
    // A bare RST at another sequence number is no such answer: the request went unanswered, as said before.
    expect(stale({ seq: 7000 }).summary).toContain('the request got no answer');
  });
});

describe('a reset from a side that had already sent its FIN', () => {
  const verdictOf = (c: ReturnType<typeof conv>, code: string) => analyzeConversation(c).flows[0].verdicts.find((v) => v.code === code);

  it('answering a keep-alive probe after the server closed an idle connection: nothing was in flight', () => {
    // http_espn_fail flow 8: the server's FIN after the whole answer, the client's probe 45 s later, the server's bare RST.
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    c.client('A', 0.03).server('FA', 15.03).client('A', 15.04);
    const probeSeq = (c.c.next - 1) >>> 0;
    c.client('A', 60, '', { seq: probeSeq }).server('R', 60.02, '', { seq: c.s.next, ack: 0 });
    const v = verdictOf(c, 'rst-by-server')!;
    expect(v.severity).toBe('info');
    expect(v.summary).toContain("nothing was in flight: its FIN had acknowledged all the client sent, the client sent no data after it, and the client's last data had been answered");
    expect(v.hint).toContain('Nothing either application wanted was lost');
  });

  it("a client that half-closes before the server's answer and resets: the answer may be cut off, a warning", () => {
    const c = conv().handshake(0).client('PA', 0.01, 'QUERY\n').client('FA', 0.02).server('A', 0.03).client('R', 0.5);
    expect(verdictOf(c, 'rst-by-client')!.severity).toBe('warning');
  });

  it('the same client after the server answered: nothing was in flight', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'QUERY\n').server('PA', 0.02, 'ANSWER\n').client('FA', 0.03).server('A', 0.04).client('R', 0.05);
    const v = verdictOf(c, 'rst-by-client')!;
    expect(v.severity).toBe('info');
    expect(v.summary).toContain('nothing was in flight');
  });

  it('a server that closes after acknowledging a second request it never answered: a warning', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    c.client('PA', 0.03, 'GET /b HTTP/1.1\r\nHost: a\r\n\r\n').server('FA', 0.04).client('A', 0.05).server('R', 0.06, '', { seq: c.s.next, ack: 0 });
    const v = verdictOf(c, 'rst-by-server')!;
    expect(v.severity).toBe('warning');
    expect(v.summary).not.toContain('nothing was in flight');
    expect(verdictOf(c, 'no-response')!.severity).toBe('error');
  });

  it('a client that closes while an HTTP answer is incomplete and resets: a warning', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npart');
    c.client('FA', 0.03).server('A', 0.04).client('R', 0.05);
    expect(verdictOf(c, 'rst-by-client')!.severity).toBe('warning');
  });

  it("data past what the FIN acknowledged that is no TLS alert stays a warning", () => {
    // A plain client's request crossing the server's FIN: not HTTP, so no request-after-close; the bytes may be lost.
    const c = conv().handshake(0).client('PA', 0.01, 'HELLO\n').server('PA', 0.02, 'WELCOME\n').client('A', 0.03).server('FA', 0.04);
    c.client('PA', 0.041, 'MORE DATA\n').server('R', 0.042, '', { seq: c.s.next, ack: 0 });
    expect(verdictOf(c, 'rst-by-server')!.severity).toBe('warning');
  });
});

describe('resets after the resetter\'s own FIN in public captures, checked with tshark', () => {
  const rstOf = (file: string, id: number) => analyzeFile(file).flows.find((f) => f.id === id)!.verdicts.find((v) => v.code.startsWith('rst-by-'))!;

  corpus.it("Zeek's wstunnel-http.pcap: the client's RST answers the server's WebSocket close frame #12, which echoes the client's #10", () => {
    const v = rstOf(corpus.path('zeek/websocket/wstunnel-http.pcap'), 1);
    expect(v.severity).toBe('info');
    expect(v.summary).toContain('the client had closed the WebSocket (close frame #10) before its FIN, and the RST answers the server\'s close frame #12');
  });

  corpus2.it('nDPI selfsigned.pcap: the server\'s bare RST #20 answers the client\'s 26-byte encrypted alert #19 (TLS 1.2, type 21)', () => {
    const v = rstOf(corpus2.path('ndpi/selfsigned.pcap'), 1);
    expect(v.severity).toBe('info');
    expect(v.summary).toContain("it answers the client's TLS alert #19");
  });

  corpus2.it('Firefox closing an HTTP/2 connection 2 ms after a POST (#103-#104): the server\'s records after the FIN may answer it, a warning', () => {
    expect(rstOf(corpus2.path('pcap2har/firefox-tls13-facebook-dsb.pcapng'), 1).severity).toBe('warning');
  });

  corpus2.it('nDPI alexa-app.pcapng flow 111: a client that closed 0.36 s after its request, before the answer #2751-#2752 came, stays a warning', () => {
    expect(rstOf(corpus2.path('ndpi/alexa-app.pcapng'), 111).severity).toBe('warning');
  });
});

describe('a reset after the resetter\'s own FIN, in TLS', () => {
  const verdictOf = (c: ReturnType<typeof conv>, code: string) => analyzeConversation(c).flows[0].verdicts.find((v) => v.code === code);
  /** A TLS 1.2 or 1.3 connection through the handshake and one request and answer. */
  const tls = (tls13: boolean) => {
    const c = conv({ server: '10.0.0.2:443' }).handshake(0);
    c.client('PA', 0.01, clientHello()).server('PA', 0.02, concat(serverHello(tls13), changeCipherSpec(), encrypted(50)));
    c.client('PA', 0.03, concat(changeCipherSpec(), encrypted(53))).server('A', 0.031);
    c.client('PA', 0.1, encrypted(300)).server('PA', 0.2, encrypted(800)).client('A', 0.21);
    return c;
  };

  it("the server's encrypted alert after the client's FIN, reset by the client: nothing was cut off", () => {
    const c = tls(false).client('FA', 1).server('PA', 1.01, encryptedAlert()).client('R', 1.0101);
    const v = verdictOf(c, 'rst-by-client')!;
    expect(v.severity).toBe('info');
    expect(v.summary).toMatch(/it answers the server's TLS alert #\d+ \(close_notify or the like\)/);
  });

  it('a TLS 1.3 record the size of an alert is one; a larger one past the FIN is data, a warning', () => {
    expect(verdictOf(tls(true).client('FA', 1).server('PA', 1.01, encrypted(19)).client('R', 1.0101), 'rst-by-client')!.severity).toBe('info');
    expect(verdictOf(tls(true).client('FA', 1).server('PA', 1.01, encrypted(500)).client('R', 1.0101), 'rst-by-client')!.severity).toBe('warning');
  });

  it('data and then an alert past the FIN: the data was cut off, a warning', () => {
    const c = tls(false).client('FA', 1).server('PA', 1.01, concat(encrypted(500), encryptedAlert())).client('R', 1.0101);
    expect(verdictOf(c, 'rst-by-client')!.severity).toBe('warning');
  });

  it("a client that gives up waiting (close_notify, FIN, the late answer reset) is no harmless reset", () => {
    const c = tls(false).client('PA', 0.3, encrypted(300)).server('A', 0.31);
    c.client('PA', 5.1, encryptedAlert()).client('FA', 5.1001).server('A', 5.11).server('PA', 6, encrypted(2000)).client('R', 6.0001);
    expect(verdictOf(c, 'rst-by-client')!.severity).toBe('warning');
  });

  it('an alert-sized record before bytes the capture missed proves nothing of what was missed', () => {
    const c = tls(true).server('PA', 0.3, encrypted(19)).client('A', 0.31).client('FA', 1);
    c.s.next = (c.s.next + 1200) >>> 0; // a segment of the server's the capture missed
    c.server('PA', 1.01, encrypted(300)).client('R', 1.0101);
    expect(verdictOf(c, 'rst-by-client')!.severity).toBe('warning');
  });

  it("a client that writes after the server's alert, closes and resets: the alert it cites was acknowledged, its request unanswered", () => {
    const c = tls(false).server('PA', 0.3, encryptedAlert()).client('A', 0.31).client('PA', 0.4, encrypted(300)).client('FA', 0.41).server('A', 0.42).client('R', 0.5);
    expect(verdictOf(c, 'rst-by-client')!.severity).toBe('warning');
  });

  it("a request inside TLS after the server's close_notify and FIN, reset by the server, stays a warning", () => {
    const c = tls(false).server('PA', 5, encryptedAlert()).server('FA', 5.0001).client('PA', 5.0002, encrypted(300)).server('R', 5.0003);
    expect(verdictOf(c, 'rst-by-server')!.severity).toBe('warning');
  });
});

describe('a reset after the resetter\'s own FIN, in a WebSocket', () => {
  const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
  const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
  const close = (masked: boolean) => Uint8Array.from(masked ? [0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2] : [0x88, 0x02, 0x03, 0xe8]);
  const session = () =>
    conv({ server: '10.0.0.2:8080' })
      .handshake(0)
      .client('PA', 0.01, `GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
      .server('PA', 0.02, `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`)
      .client('A', 0.03);
  const rst = (c: ReturnType<typeof conv>) => analyzeConversation(c).flows[0].verdicts.find((v) => v.code === 'rst-by-client')!;

  it("the client's close, its FIN, the server's close frame reset by the client: nothing was cut off", () => {
    const v = rst(session().client('PA', 1, close(true)).client('FA', 1.001).server('PA', 1.002, close(false)).client('R', 1.003));
    expect(v.severity).toBe('info');
    expect(v.summary).toMatch(/the client had closed the WebSocket \(close frame #\d+\) before its FIN, and the RST answers the server's close frame #\d+/);
  });

  it('data the server sent after its close frame, reset by the client: not said to be the close frame', () => {
    const v = rst(session().client('PA', 1, close(true)).client('FA', 1.001).server('PA', 1.002, close(false)).server('PA', 1.0021, 'late bytes').client('R', 1.003));
    expect(v.severity).toBe('warning');
  });
});
