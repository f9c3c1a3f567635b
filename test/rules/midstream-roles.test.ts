// Connections the capture joined after the handshake: roles proven by a side's first payload (an
// HTTP request or status line, a TLS hello) are turned before anything reads a byte; roles nothing
// proves (a body cut mid-way, both ports high) blame no side by its role.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { hasTool } from '../helpers/tools.js';
import { canCapture, removeCaptureDirs, runCaptureScenario } from '../helpers/traffic.js';

afterAll(removeCaptureDirs);

/** The scenarios capture with tcpdump, fetch with curl from python's http.server, and cut with editcap. */
const canMakeScenarios = canCapture() && hasTool('curl', ['--version']) && hasTool('editcap', ['--version']) && hasTool('python3', ['--version']);

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}.pcap`, import.meta.url));
const verdict = (f: FlowResult, code: string) => f.verdicts.find((v) => v.code === code);

/** A keep-alive exchange on two high ports whose capture starts after the request: the first packet is the server's. */
function answerFirst(firstBytes: string) {
  const c = conv({ client: '10.9.0.1:50123', server: '10.9.0.2:61000' });
  c.client('S', 0).server('SA', 0.001).client('A', 0.002).client('PA', 0.003, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  c.server('A', 0.004).server('PA', 0.01, firstBytes).client('A', 0.011);
  c.client('PA', 0.02, 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n').server('PA', 0.03, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok').client('A', 0.031);
  c.client('FA', 0.04).server('FA', 0.041).client('A', 0.042);
  return c;
}

/**
 * What must be said of a download cut mid-body between two high ports (scenario midstream-download).
 * `fresh`: a capture made now, where how long curl's window stays closed depends on the machine's
 * timing: a close as brief as flow control's is info, so there the severity is not asked for.
 */
function checkDownload(f: FlowResult, fresh = false): void {
  // The guess stands and says it is one: the first packet's sender, the server, is taken for the client.
  expect(f.rolesProvenPacket).toBeNull();
  expect(verdict(f, 'midstream')?.summary).toMatch(/guessed from the first packet$/);
  // curl's kernel reset with unread data: named by host:port, not "reset by the server", and only as info.
  const rst = verdict(f, 'rst-by-server');
  expect(rst?.severity).toBe('info');
  expect(rst?.facts.resetter).toBe(f.server);
  expect(rst?.summary).toMatch(/^connection reset by 127\.0\.0\.1:\d+ \(RST #\d+, .*\); which side is the client is a guess/);
  // curl's receive buffer filled: the host is named, no "server's receive buffer". In the sample its
  // reader stalled for 1.88 s whichever side it was, so that stays a warning.
  const z = verdict(f, 'zero-window');
  const stalled = fresh ? z?.severity === 'warning' : true;
  expect(z?.severity).toBe(stalled ? 'warning' : 'info');
  expect(z?.facts.receiver).toBe(f.server);
  expect(z?.summary).not.toMatch(/the (server|client) advertised/);
  expect(z?.hint).not.toMatch(/server's receive buffer/);
  expect(f.verdicts.filter((v) => v.severity !== 'info').map((v) => v.code)).toEqual(stalled ? ['zero-window'] : []);
}

/** What must be said of a keep-alive connection cut at its first response (scenario midstream-keepalive). */
function checkKeepalive(f: FlowResult): void {
  // The status line of packet 1 turns the roles before any byte is read: both answers and the second request are read.
  expect(f.rolesProvenPacket).toBe(1);
  expect(f.rolesTurned).toBe(true);
  expect(f.app?.protocol).toBe('http');
  expect(f.app?.http.map((x) => [x.request?.method ?? null, x.request?.target ?? null, x.response?.status])).toEqual([
    [null, null, 200],
    ['GET', '/b', 200],
  ]);
  expect(verdict(f, 'midstream')?.summary).toMatch(/told by the payload of #1 .*not by the first packet$/);
  // curl closes first, and is called the client.
  expect(verdict(f, 'clean-close')?.summary).toMatch(/client sent the first FIN/);
}

describe('a download caught mid-body between two high ports', () => {
  it('samples/midstream-download.pcap: names the resetting host (info) and the one whose window stayed closed (a warning), blaming no role', () => {
    checkDownload(analyzeFile(sample('midstream-download')).flows[0]);
  });

  it.skipIf(!canMakeScenarios)('a fresh capture (python http.server, curl --limit-rate, cut with editcap)', async () => {
    const run = await runCaptureScenario('midstream-download');
    checkDownload(analyzeFile(run.file).flows[0], true);
  });
});

describe('a keep-alive connection caught at its first response, between two high ports', () => {
  it('samples/midstream-keepalive.pcap: turns the roles by the status line and reads both exchanges', () => {
    checkKeepalive(analyzeFile(sample('midstream-keepalive')).flows[0]);
  });

  it.skipIf(!canMakeScenarios)('a fresh capture (python http.server --protocol HTTP/1.1, curl fetching two files)', async () => {
    const run = await runCaptureScenario('midstream-keepalive');
    checkKeepalive(analyzeFile(run.file).flows[0]);
  });
});

describe('payload evidence on edge cases', () => {
  const midstream = (c: ReturnType<typeof conv>, from: number) => {
    const cut = conv();
    cut.packets.push(...c.packets.slice(from));
    return analyzeConversation(cut).flows[0];
  };

  it('turns a flow whose bare ACK came before the status line, counting that ACK as the server\'s', () => {
    const f = midstream(answerFirst('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'), 4);
    expect(f.client).toBe('10.9.0.1:50123');
    expect(f.rolesTurned).toBe(true);
    expect(f.rolesProvenPacket).toBe(2);
    expect([f.clientSide.packets, f.serverSide.packets]).toEqual([5, 4]);
    expect(f.app?.http).toHaveLength(2);
  });

  it('turns a flow by a TLS ServerHello', () => {
    const serverHello = String.fromCharCode(22, 3, 3, 0, 4, 2, 0, 0, 0);
    const f = midstream(answerFirst(serverHello), 5);
    expect(f.client).toBe('10.9.0.1:50123');
    expect(f.rolesTurned).toBe(true);
  });

  it('keeps a guess the first request proves right, and a reset then blames the server as before', () => {
    const c = conv({ client: '10.9.0.1:50123', server: '10.9.0.2:61000' });
    c.client('S', 0).server('SA', 0.001).client('A', 0.002).client('PA', 0.003, 'GET / HTTP/1.1\r\n\r\n').server('A', 0.004).server('RA', 2);
    const f = midstream(c, 3);
    expect(f.rolesProvenPacket).toBe(1);
    expect(f.rolesTurned).toBe(false);
    expect(verdict(f, 'rst-by-server')?.severity).toBe('error');
  });

  it('leaves the guess and blames no role when the proof comes after the other side\'s bytes were read', () => {
    // A body cut mid-way first (from the server, taken for the client), then the next request.
    const c = answerFirst('0123456789');
    c.server('RA', 3);
    const f = midstream(c, 5);
    expect(f.client).toBe('10.9.0.2:61000');
    expect(f.rolesProvenPacket).toBeNull();
    expect(verdict(f, 'rst-by-client')?.severity).toBe('info');
  });

  it('says a window closed only by a last ACK as info, with roles nothing proves', () => {
    // The tail of a connection: one side's last ACK carries a zero window, and nothing follows it.
    const c = conv({ client: '10.9.1.1:50200', server: '10.9.1.2:61200' });
    c.client('PA', 0, 'z'.repeat(300), { seq: 5000, ack: 7000 }).server('A', 0.001, '', { seq: 7000, ack: 5300, window: 0 });
    const z = verdict(analyzeConversation(c).flows[0], 'zero-window');
    expect(z?.severity).toBe('info');
    expect(z?.summary).toMatch(/^10\.9\.1\.2:61200 advertised a zero window \(#2\): closed for 0 ms/);
  });

  it('leaves out a verdict that says which side did what, only where nothing proves the roles', () => {
    // The same exchange between two high ports, with and without its handshake: 27 bytes one way, an
    // ACK, 30 s of silence, then the first packet's sender closes. Its payload proves no role.
    const talk = (handshake: boolean) => {
      const c = conv({ client: '10.9.2.1:50300', server: '10.9.2.2:61300' });
      const t = handshake ? 0.003 : 0;
      if (handshake) c.client('S', 0, '', { seq: 999 }).server('SA', 0.001, '', { seq: 4999, ack: 1000 }).client('A', 0.002, '', { seq: 1000, ack: 5000 });
      c.client('PA', t, 'p'.repeat(27), { seq: 1000, ack: 5000 }).server('A', t + 0.001, '', { seq: 5000, ack: 1027 });
      c.server('PA', t + 3, 'q'.repeat(40), { seq: 5000, ack: 1027 }).client('A', t + 3.001, '', { seq: 1027, ack: 5040 });
      c.client('FA', t + 8, '', { seq: 1027, ack: 5040 }).server('FA', t + 8.001, '', { seq: 5040, ack: 1028 }).client('A', t + 8.002, '', { seq: 1028, ack: 5041 });
      return analyzeConversation(c).flows[0];
    };
    // With the handshake the client is known: "then the client closed the connection".
    const known = talk(true);
    expect(verdict(known, 'idle-close')?.summary).toMatch(/then the client closed the connection/);
    expect(verdict(known, 'clean-close')?.summary).toMatch(/^closed cleanly: client sent the first FIN/);
    const guessed = talk(false);
    expect(guessed.rolesProvenPacket).toBeNull();
    expect(verdict(guessed, 'idle-close')).toBeUndefined();
    // Said of either, naming the host where the role would be a guess.
    expect(verdict(guessed, 'clean-close')?.summary).toMatch(/^closed cleanly: 10\.9\.2\.1:50300 sent the first FIN/);
  });

  it('changes nothing for a connection whose handshake is in the capture', () => {
    const f = analyzeConversation(answerFirst('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi')).flows[0];
    expect(f.rolesProvenPacket).toBeNull();
    expect(f.rolesTurned).toBe(false);
    expect(f.client).toBe('10.9.0.1:50123');
  });
});
