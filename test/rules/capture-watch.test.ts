import { describe, expect, it } from 'vitest';
import { Analyzer, analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeFrames, conv, type Conversation, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { toRecord, udpFrame, type Frame } from '../helpers/packets.js';

const corpus = useCorpus();

// A silence is judged only as long as the capture shows it watched the flow: up to the file's end,
// unless a seam of captures joined together (the clock stepping back, or no packet at all for longer
// than the idle timeout with no host's IPv4 ID continuing across it) follows the flow, or, in a file
// with seams, the flow's hosts are not seen again.

const client = { client: '192.168.1.249:40218', server: '213.180.204.186:443' };
/** The same client's other connection, `t` seconds on. */
const later = (t: number, port = 40300) => conv({ client: `192.168.1.249:${port}`, server: '87.250.250.108:443' }).handshake(t).client('PA', t + 0.01, 'hello').server('PA', t + 0.03, 'world').client('A', t + 0.031);
const unanswered = () => conv(client).handshake(0, 0.015).client('PA', 0.5, 'x'.repeat(349)).server('A', 0.513);
const flowOf = (r: ReturnType<typeof analyzeFrames>, c: Conversation) => r.flows.find((f) => f.client === `${c.c.ip}:${c.c.port}`)!;

describe('how long the capture watched a flow', () => {
  it('states a request unanswered until the capture ended, when the file is one capture', () => {
    const c = unanswered();
    const r = analyzeFrames([...c.packets, ...later(20).packets]);
    const v = flowOf(r, c).verdicts.find((x) => x.code === 'no-response')!;
    expect(v.summary).toMatch(/still unanswered 19\.5 s later when the capture ended/);
  });

  it('does not measure a wait across the clock stepping back: the file joins captures, and the one holding the request stopped', () => {
    const c = unanswered();
    // A second recording, stamped an hour before the first, that runs for an hour and a half.
    const r = analyzeFrames([...c.packets, ...later(-3600).packets, ...later(1800, 40301).packets]);
    const verdicts = flowOf(r, c).verdicts;
    expect(verdicts.map((x) => x.code)).not.toContain('no-response');
    const ended = verdicts.find((x) => x.code === 'capture-ended')!;
    expect(ended.summary).toBe("the capture of this flow ended 13 ms after request #4 (last packet #5); the file's clock steps back at #6 (captures joined): too early to judge (an answer could still come; silence counts after 1.00 s)");
    expect(ended.facts).toMatchObject({ watchedUntil: 'seam', seamPacket: 6 });
  });

  it('does not measure a wait across a silence of the whole capture longer than the idle timeout', () => {
    const c = unanswered();
    // Nothing at all for 2442 s, then the same client busy for an hour.
    const r = analyzeFrames([...c.packets, ...later(2442.5).packets, ...later(6000, 40301).packets]);
    const verdicts = flowOf(r, c).verdicts;
    expect(verdicts.map((x) => x.code)).not.toContain('no-response');
    expect(verdicts.find((x) => x.code === 'capture-ended')!.summary).toMatch(/^the capture of this flow ended 13 ms after request #4 \(last packet #5\); then no packet at all for 2442 s, until #6: too early to judge/);
  });

  it('measures half-closed to the end of the capture, not to the flow\'s last packet', () => {
    const c = conv(client).handshake(0).client('PA', 0.1, 'bye').server('A', 0.11).client('FA', 0.5).server('A', 0.501);
    const r = analyzeFrames([...c.packets, ...later(60).packets]);
    const v = flowOf(r, c).verdicts.find((x) => x.code === 'half-closed')!;
    expect(v.summary).toBe("only the client sent a FIN (#6); the server had not closed its side 59.5 s later when the capture ended");
    expect(v.facts.waitedMs).toBe(59_531);
  });

  it('in a file of joined captures, judges a close only as long as the capture holds packets of the flow\'s hosts', () => {
    // A connection whose data the server never acknowledged, closed by the client's FIN; then syslog
    // datagrams of other hosts, the last of them half a year on: captures of other places joined on.
    const c = conv({ client: '10.186.117.194:49948', server: '169.46.82.162:52173' }).handshake(0).client('PA', 0.3, 'x'.repeat(136)).client('FA', 185);
    const syslog = (src: string, t: number) => ({ frame: udpFrame({ src, dst: '196.240.66.148', sport: 514, dport: 514, payload: '<13>log' }), t });
    const joined = (...between: Array<{ frame: Frame; t: number }>) => analyzeFrames([...c.packets, syslog('192.168.254.157', 229), ...between, syslog('10.94.232.21', 16_000_000)]);
    const verdicts = flowOf(joined(), c).verdicts;
    expect(verdicts.map((x) => x.code)).toEqual(['capture-ended']);
    expect(verdicts[0].summary).toBe("the capture holds no packet of 10.186.117.194 or 169.46.82.162 after the client's FIN #5, though the file goes on to #7: too early to judge (an answer could still come; silence counts after 1.00 s)");
    // The server's host seen again in that capture: it still saw the host, and the open side is half-closed.
    const seen = flowOf(joined(syslog('169.46.82.162', 240)), c).verdicts;
    expect(seen.map((x) => x.code)).toEqual(['half-closed']);
    expect(seen[0].summary).toBe("only the client sent a FIN (#5); the server had not closed its side 55.0 s later when the capture of it ended (last packet #7; then no packet at all for 185.2 days, until #8)");
    // Seen again, and then only other hosts before the seam: the wait ends at the host's last packet (its time and number), not at the seam.
    const seenBefore = flowOf(joined(syslog('169.46.82.162', 240), syslog('192.168.254.157', 300)), c).verdicts;
    expect(seenBefore.map((x) => [x.code, x.summary, x.facts.waitedMs])).toEqual([
      ['half-closed', 'only the client sent a FIN (#5); the server had not closed its side 55.0 s later when the capture last held a packet of 10.186.117.194 or 169.46.82.162 (#7)', 55_000],
    ]);
  });

  describe('a silence of the whole capture longer than the idle timeout', () => {
    // A Windows client (one IPv4 ID counter for all it sends): the server closes, the client only
    // acknowledges; no packet at all for 306.8 s; then the client answers a worm's probe with a RST.
    const windows = { client: '24.6.125.19:1050', server: '209.123.150.14:80' };
    const closedByServer = () =>
      conv(windows)
        .handshake(0)
        .client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
        .server('PA', 0.1, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        .client('A', 0.2)
        .server('FA', 20)
        .client('A', 20.0001);
    /** The probe at 326.8 s and the client's RST, the RST with IPv4 ID `ipId`. */
    const probe = (ipId: number) => conv({ client: '145.53.129.153:4008', server: '24.6.125.19:5554' }).client('S', 326.8).server('RA', 326.8001, '', { ipId });
    /** Kept to the end and streamed as flows end: the server's connection in each. */
    function bothRuns(packets: ScriptedPacket[]): FlowResult[] {
      const streamed: FlowResult[] = [];
      const analyzer = new Analyzer({ file: 'leap.pcap', retainFlows: false, onFlowJudged: (f) => streamed.push(f) });
      packets.forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6) })));
      analyzer.finish({ file: 'leap.pcap', format: 'pcap', linkTypes: [1], snaplen: 65535, packets: packets.length, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false });
      return [analyzeFrames(packets).flows[0], streamed.find((f) => f.id === 1)!];
    }

    it('is a quiet spell the capture ran through when a host\'s IPv4 ID goes on from where it stopped', () => {
      const c = closedByServer();
      const next = c.c.ipId; // the client's next IPv4 ID: it sent nothing the capture missed
      for (const f of bothRuns([...c.packets, ...probe(next).packets])) {
        expect(f.verdicts.map((v) => v.code)).not.toContain('capture-ended');
        expect(f.verdicts.find((v) => v.code === 'half-closed')!.summary).toBe('only the server sent a FIN (#7); the client had not closed its side 300.0 s later when the flow went idle');
      }
    });

    it('is a seam when the ID leapt (thousands of packets the capture does not hold) or no host seen before shows one', () => {
      const c = closedByServer();
      for (const ipId of [c.c.ipId + 7377, 0]) {
        const packets = [...c.packets, ...probe(ipId).packets];
        for (const f of bothRuns(packets)) {
          expect(f.verdicts.map((v) => v.code)).not.toContain('half-closed');
          expect(f.verdicts.find((v) => v.code === 'capture-ended')!.summary).toMatch(/; then no packet at all for 306\.8 s, until #9: too early to judge/);
        }
      }
    });

    corpus.it('PPA evilprogram.pcap: the 307 s without a packet after #456 is no seam (24.6.125.19 sends ID 0x0108, then 0x0109 in #458): flow 64 is half-closed', () => {
      const r = analyzeFile(corpus.path('ppa/ppa1e/evilprogram.pcap'));
      const f = r.flows.find((x) => x.client === '24.6.125.19:1050' && x.firstPacket === 402)!;
      expect(f.verdicts.map((v) => v.code).sort()).toEqual(['half-closed', 'idle-close']);
      expect(f.verdicts.find((v) => v.code === 'half-closed')!.summary).toBe('only the server sent a FIN (#455); the client had not closed its side 300.0 s later when the flow went idle');
    });
  });
});
