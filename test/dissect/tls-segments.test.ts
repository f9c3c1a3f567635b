// TLS records that span many segments, and streams the capture did not see whole. The handshake
// bytes are a real node TLS 1.2 exchange (samples/tls-unknown-ca.pcap) with its server flight
// rebuilt as one 5 KB record, as servers send a ServerHello and a certificate chain; then public
// captures whose server flights span segments, checked against tshark's reading of them.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppSession } from '../../src/dissect/session.js';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeFrames, conv, type Conversation, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { concatBytes, everySplit } from '../helpers/splits.js';
import { tcpPayload } from '../helpers/wire.js';

const SAMPLE = fileURLToPath(new URL('../../samples/tls-unknown-ca.pcap', import.meta.url));
const corpus2 = useCorpus('corpus2', { tools: ['tshark'] });

/** Bodies of the TLS records in `b` (type, body). */
function records(b: Uint8Array): { type: number; body: Uint8Array }[] {
  const out: { type: number; body: Uint8Array }[] = [];
  for (let at = 0; at + 5 <= b.length; ) {
    const len = (b[at + 3] << 8) | b[at + 4];
    out.push({ type: b[at], body: b.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

const u24 = (n: number) => Uint8Array.of(n >> 16, (n >> 8) & 0xff, n & 0xff);
const record = (type: number, body: Uint8Array) => concatBytes(Uint8Array.of(type, 3, 3, body.length >> 8, body.length & 0xff), body);

/** The sample's handshake: ClientHello, the server flight as one record of about 5 KB, then both Finished flights. */
function handshake() {
  const clientHello = tcpPayload(SAMPLE, 4);
  const [serverHello, certificate, keyExchange, helloDone] = records(tcpPayload(SAMPLE, 6)).map((r) => r.body);
  // A chain of twelve copies of the server's certificate: Certificate = type 11, u24 length, u24 list length, (u24 length, cert)*.
  const cert = certificate.subarray(7, 7 + ((certificate[7] << 16) | (certificate[8] << 8) | certificate[9]) + 3);
  const list = concatBytes(...Array.from({ length: 12 }, () => cert));
  const chain = concatBytes(Uint8Array.of(11), u24(list.length + 3), u24(list.length), list);
  const flight = record(22, concatBytes(serverHello, chain, keyExchange, helloDone));
  return { clientHello, flight, clientFinished: tcpPayload(SAMPLE, 8), serverFinished: tcpPayload(SAMPLE, 9) };
}

/** tshark's chosen cipher in the sample's ServerHello: its code and its name. */
const SAMPLE_CIPHER = { cipherCode: '0xc02b', cipher: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256' };

describe('a server flight in one 5 KB record, read across segments', () => {
  const hs = handshake();

  it('builds a flight bigger than three full-size segments', () => {
    expect(hs.flight.length).toBeGreaterThan(5000);
    expect(hs.flight.length).toBeLessThan(16384 + 5);
  });

  it('reads the ServerHello and the certificate whatever the segment boundaries, and never calls the server plain text', () => {
    let splits = 0;
    for (const split of everySplit(hs.flight, { exhaustiveUpTo: 512, threeWay: 16 })) {
      const session = new AppSession(false);
      session.onData(0, hs.clientHello, 0, hs.clientHello.length, 0, 4, 1);
      let offset = 0;
      split.chunks.forEach((chunk, i) => {
        session.onData(1, chunk, 0, chunk.length, offset, 6 + i, 2 + i);
        offset += chunk.length;
      });
      const t = session.facts.tls!;
      expect(t.serverNotTls, split.label).toBeNull();
      expect(t.malformed, split.label).toBeNull();
      expect(t.serverHello, split.label).toMatchObject({ version: 'TLS 1.2', ...SAMPLE_CIPHER, no: 6 + split.chunks.length - 1 });
      expect(t.serverCertificate, split.label).not.toBeNull();
      splits++;
    }
    expect(splits).toBeGreaterThan(500);
  });

  /** The whole exchange over TCP, the flight cut into `mss`-byte segments; `drop` removes server data segments by index. */
  function exchange(mss: number, opts: { drop?: number[]; fromSynAck?: boolean; clientLeavesAfter?: number; clientTurn?: number } = {}): Conversation {
    const c = conv({ client: '10.0.0.1:40000', server: '10.0.0.2:443' }).handshake(0);
    c.client('PA', 0.01, hs.clientHello);
    let t = 0.02;
    for (let at = 0; at < hs.flight.length; at += mss) c.server('PA', (t += 0.0001), hs.flight.subarray(at, at + mss));
    c.client('A', (t += 0.001));
    c.client('PA', (t += opts.clientTurn ?? 0.001), hs.clientFinished);
    c.server('PA', (t += 0.001), hs.serverFinished);
    if (opts.clientLeavesAfter !== undefined) return c.client('FA', t + opts.clientLeavesAfter).server('FA', t + opts.clientLeavesAfter + 0.001).client('A', t + opts.clientLeavesAfter + 0.002);
    c.client('PA', (t += 0.001), record(23, new Uint8Array(64).fill(7)));
    c.server('PA', (t += 0.001), record(23, new Uint8Array(300).fill(9)));
    c.client('FA', (t += 0.01)).server('FA', (t += 0.001)).client('A', (t += 0.001));
    const serverData = c.packets.map((p, i) => ({ p, i })).filter(({ i }) => i >= 4 && i < 4 + Math.ceil(hs.flight.length / mss));
    const dropped = new Set((opts.drop ?? []).map((k) => serverData[k]!.i));
    if (opts.fromSynAck === false) for (let i = 0; i < 3; i++) dropped.add(i);
    const kept = c.packets.filter((_, i) => !dropped.has(i));
    c.packets.splice(0, c.packets.length, ...kept);
    return c;
  }

  const only = (c: Conversation | ScriptedPacket[]): FlowResult => {
    const { flows } = analyzeFrames(Array.isArray(c) ? c : c.packets);
    expect(flows).toHaveLength(1);
    return flows[0]!;
  };
  const codes = (f: FlowResult) => f.verdicts.map((v) => v.code);

  it.each([1448, 536, 100, 7])('gives tls-ok for the flight in %i-byte segments', (mss) => {
    const f = only(exchange(mss));
    expect(f.app!.tls!.serverHello).toMatchObject({ version: 'TLS 1.2', ...SAMPLE_CIPHER });
    expect(f.verdicts.filter((v) => v.code.startsWith('tls-')).map((v) => [v.code, v.severity])).toEqual([['tls-ok', 'info']]);
  });

  it('calls a client that closes on the server\'s Finished without a request (as Node does on a bad certificate) an abandoned handshake', () => {
    const f = only(exchange(1448, { clientLeavesAfter: 0.002 }));
    expect(f.verdicts.find((v) => v.code === 'tls-handshake-abandoned')).toMatchObject({ severity: 'error', facts: { by: 'client', after: 'handshake' } });
    expect(codes(f)).not.toContain('tls-ok');
  });

  it('measures "at once" by the client\'s own pace: a starved client that took 150 ms over its Finished and closes 300 ms after the server\'s has abandoned the handshake', () => {
    const starved = only(exchange(1448, { clientTurn: 0.15, clientLeavesAfter: 0.3 }));
    expect(starved.verdicts.find((v) => v.code === 'tls-handshake-abandoned')).toMatchObject({ severity: 'error', facts: { by: 'client', after: 'handshake' } });
    expect(codes(starved)).not.toContain('tls-ok');
    // The same client closing after more than four of its turns left an unused connection.
    expect(codes(only(exchange(1448, { clientTurn: 0.15, clientLeavesAfter: 0.7 })))).toContain('tls-ok');
  });

  it('calls a client that closes 200 ms after the handshake without a request an unused connection: tls-ok, no error', () => {
    const f = only(exchange(1448, { clientLeavesAfter: 0.2 }));
    expect(f.verdicts.find((v) => v.code === 'tls-ok')).toMatchObject({ facts: { noRequest: true, certificateInClear: true } });
    expect(f.verdicts.filter((v) => v.severity !== 'info')).toEqual([]);
  });

  it('stops judging when the capture missed the server segment that started the record', () => {
    const f = only(exchange(1448, { drop: [0] }));
    const t = f.app!.tls!;
    expect(f.serverSide.missedBytes).toBe(1448);
    expect(t.missed.server).not.toBeNull();
    expect(t.serverNotTls).toBeNull();
    expect(t.serverHello).toBeNull();
    expect(codes(f).filter((c) => c.startsWith('tls-'))).toEqual([]);
  });

  it('stops judging when the capture missed a segment inside the record', () => {
    const f = only(exchange(1448, { drop: [2] }));
    expect(f.app!.tls!.missed.server).not.toBeNull();
    expect(codes(f).filter((c) => c.startsWith('tls-'))).toEqual([]);
  });

  it('does not call the server plain text when the capture started after its first segment (no handshake seen)', () => {
    const f = only(exchange(1448, { drop: [0], fromSynAck: false }));
    expect(f.synAcks).toHaveLength(0);
    expect(codes(f)).not.toContain('tls-plaintext-server');
    expect(f.verdicts.filter((v) => v.code.startsWith('tls-') && v.severity !== 'info')).toEqual([]);
  });

  it('says nothing of TLS when only the client side was captured', () => {
    const fromClient = (p: ScriptedPacket) => p.frame.bytes[14 + 15] === 1; // the last byte of the IPv4 source, 10.0.0.1
    const f = only(exchange(1448).packets.filter(fromClient));
    expect(f.serverSide.packets).toBe(0);
    expect(f.verdicts.filter((v) => v.code.startsWith('tls-'))).toEqual([]);
  });

  it('still calls a server that answers a ClientHello with HTTP plain text, from its first byte', () => {
    const c = conv({ client: '10.0.0.1:40000', server: '10.0.0.2:443' }).handshake(0);
    c.client('PA', 0.01, hs.clientHello).server('PA', 0.02, 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n').server('FA', 0.021).client('FA', 0.03).server('A', 0.031);
    const f = only(c);
    expect(f.verdicts.find((v) => v.code === 'tls-plaintext-server')).toMatchObject({ severity: 'error', facts: { plainHttp: true } });
  });
});

/** tshark's handshake types, alerts and TLS record presence per frame, with the TCP stream. */
function tsharkTls(file: string, options: string[] = []): Map<number, { stream: number; types: string[]; alert: string; port: number; len: number; record: boolean }> {
  const out = spawnSync('tshark', ['-r', file, ...options, '-Y', 'tcp.len > 0', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'tls.handshake.type', '-e', 'tls.alert_message.desc', '-e', 'tcp.srcport', '-e', 'tcp.len', '-e', 'tls.record.content_type'], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const rows = new Map<number, { stream: number; types: string[]; alert: string; port: number; len: number; record: boolean }>();
  for (const line of out.stdout.trim().split('\n')) {
    const [no, stream, types, alert, port, len, record] = line.split('|');
    rows.set(Number(no), { stream: Number(stream), types: types ? types.split(',') : [], alert: alert ?? '', port: Number(port), len: Number(len), record: (record ?? '') !== '' });
  }
  return rows;
}

// Captures with TLS in the second corpus (MANIFEST.md): multi-segment server flights (alexa-app,
// http_ipv6, yandex), alerts, TLS 1.3, session resumption, one-sided and mid-stream captures.
const TLS_CAPTURES = [
  'ndpi/alexa-app.pcapng',
  'ndpi/http_ipv6.pcap',
  'ndpi/tls_alert.pcap',
  'ndpi/selfsigned.pcap',
  'ndpi/dingtalk.pcap',
  'ndpi/yandex.pcapng',
  'ndpi/1kxun.pcap',
  'ndpi/6in4tunnel.pcap',
  'ndpi/http_connect.pcap',
  'ndpi/tls_port_80.pcapng',
  'ndpi/tls_1.2_unidirectional_client.pcapng',
  'ndpi/tls_1.3_unidirectional_server.pcapng',
  'ndpi/tls_multiple_synack_different_seq.pcapng',
  'ndpi/heuristic_tcp_ack_payload.pcap',
  'ndpi/ocs.pcap',
  'pcap2har/firefox-tls13-facebook-dsb.pcapng',
  'pcapfs/system-tests.pcapng',
];

/** tshark settings some captures need for it to read their TLS at all. */
const TSHARK_OPTIONS: Record<string, string[]> = {
  // TLS on port 80: tshark decodes port 80 as HTTP.
  'ndpi/tls_port_80.pcapng': ['-d', 'tcp.port==80,tls'],
  // SYN-ACKs with four different ISNs: tshark takes the server's flight for retransmissions and
  // does not dissect it unless its sequence analysis is off.
  'ndpi/tls_multiple_synack_different_seq.pcapng': ['-o', 'tcp.analyze_sequence_numbers:FALSE'],
};

corpus2.describe('TLS verdicts on public captures, against tshark', () => {
  it.each(TLS_CAPTURES)('%s: hellos and alerts where tshark sees them, and no TLS error tshark contradicts', (name) => {
    const file = corpus2.path(name);
    const { flows } = analyzeFile(file);
    const shark = tsharkTls(file, TSHARK_OPTIONS[name]);
    for (const f of flows) {
      const t = f.app?.tls;
      if (!t) continue;
      const where = `${name} flow ${f.id}`;
      // Our hellos sit on the frames where tshark completes the same handshake message.
      if (t.clientHello) expect(shark.get(t.clientHello.no)?.types ?? [], where).toContain('1');
      if (t.serverHello) expect(shark.get(t.serverHello.no)?.types ?? [], where).toContain('2');
      for (const a of t.alerts) expect(shark.get(a.no)?.alert.split(',') ?? [], where).toContain(String(a.description));
      // Plain text only when tshark finds no TLS record in the server's first data segment.
      const plain = f.verdicts.find((v) => v.code === 'tls-plaintext-server');
      if (plain) expect(shark.get(t.serverNotTls!.no)?.record, where).toBe(false);
    }
    expect(flows.filter((f) => f.verdicts.some((v) => v.code === 'tls-plaintext-server')).map((f) => f.id)).toEqual([]);
  });

  it('alexa-app: resumed TLS 1.0 sessions the client never used are tls-ok with "no request", not an abandoned handshake nor no-response', () => {
    const { flows } = analyzeFile(corpus2.path('ndpi/alexa-app.pcapng'));
    // tshark: ClientHello #480, ServerHello+ChangeCipherSpec #495 (no Certificate), client Finished #520, client FIN #572.
    const f = flows.find((x) => x.app?.tls?.clientHello?.no === 480)!;
    expect(f.app!.tls!.serverCertificate).toBeNull();
    const ok = f.verdicts.find((v) => v.code === 'tls-ok')!;
    expect(ok.facts).toMatchObject({ version: 'TLS 1.0', noRequest: true, certificateInClear: false });
    expect(ok.summary).toContain('the client sent no request and closed the connection (#572)');
    expect(f.verdicts.map((v) => v.code)).not.toEqual(expect.arrayContaining(['tls-handshake-abandoned']));
    expect(f.verdicts.map((v) => v.code)).not.toContain('no-response');
    expect(flows.filter((x) => x.verdicts.some((v) => v.code === 'tls-handshake-abandoned'))).toEqual([]);
  });

  it('dingtalk: a TLS 1.3 client that sent its Finished accepted the certificate, so closing after it is no rejection', () => {
    const { flows } = analyzeFile(corpus2.path('ndpi/dingtalk.pcap'));
    const f = flows.find((x) => x.app?.tls?.serverHello)!;
    expect(f.app!.tls!.serverHello!.version).toBe('TLS 1.3');
    expect(f.verdicts.map((v) => v.code)).not.toContain('tls-handshake-abandoned');
    expect(f.verdicts.find((v) => v.code === 'tls-ok')!.facts).toMatchObject({ noRequest: true });
  });

  it('http_ipv6: a warning-level unrecognized_name the handshake went on past is info, beside tls-ok', () => {
    const { flows } = analyzeFile(corpus2.path('ndpi/http_ipv6.pcap'));
    const alerted = flows.filter((f) => f.verdicts.some((v) => v.code === 'tls-alert'));
    expect(alerted.length).toBe(4);
    for (const f of alerted) {
      expect(f.verdicts.find((v) => v.code === 'tls-alert')).toMatchObject({ severity: 'info', facts: { name: 'unrecognized_name', level: 'warning', handshakeWentOn: true } });
      expect(f.verdicts.map((v) => v.code)).toContain('tls-ok');
    }
  });

  it('tls_alert: a fatal protocol_version alert stays an error', () => {
    const { flows } = analyzeFile(corpus2.path('ndpi/tls_alert.pcap'));
    const v = flows.flatMap((f) => f.verdicts).find((x) => x.code === 'tls-alert')!;
    expect(v).toMatchObject({ severity: 'error', facts: { name: 'protocol_version', level: 'fatal' } });
  });

  it.each(['ndpi/tls_1.2_unidirectional_client.pcapng', 'ndpi/tls_1.3_unidirectional_server.pcapng'])('%s (one direction only): no TLS warning or error', (name) => {
    const { flows } = analyzeFile(corpus2.path(name));
    expect(flows.flatMap((f) => f.verdicts).filter((v) => v.code.startsWith('tls-') && v.severity !== 'info')).toEqual([]);
  });
});
