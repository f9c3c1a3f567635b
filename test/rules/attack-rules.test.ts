// Attacks and their aftermath: nmap's OS detection, stealth and connect scans, worms probing one
// host from many sources, SYN floods from one source, and packets sent on connections a peer had
// already reset. Public captures (checked against tshark's reading of the packets) and scripted
// edge cases built with the capture writer.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Analyzer, analyzeFile, streamFlows, type AnalysisResult, type FlowResult } from '../../src/pipeline.js';
import { analyzeConversation, conv, type Conversation } from '../helpers/conversation.js';
import { toRecord } from '../helpers/packets.js';
import { useCorpus } from '../helpers/corpus.js';

// The public captures' tests check the packets with tshark.
const corpus = useCorpus('corpus', { tools: ['tshark'] });
const corpus2 = useCorpus('corpus2', { tools: ['tshark'] });

interface TsharkSegment {
  no: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  flags: number;
}

/** Every TCP segment as tshark reads it. */
function tsharkSegments(file: string): TsharkSegment[] {
  const out = spawnSync('tshark', ['-r', file, '-Y', 'tcp', '-T', 'fields', '-e', 'frame.number', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.flags'], { encoding: 'utf8' });
  return out.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [no, src, dst, sp, dp, flags] = line.split('\t');
      return { no: Number(no), src, dst, srcPort: Number(sp), dstPort: Number(dp), flags: Number(flags) & 0xff };
    });
}

const SYN = 0x02;
const ACK = 0x10;
/** Flags no TCP stack sends: none at all, FIN without ACK, SYN with FIN. */
const isCrafted = (f: number) => (f & 0x3f) === 0 || (f & (0x01 | 0x10 | 0x04)) === 0x01 || (f & 0x03) === 0x03;

/** Ports of `target` that answered a SYN `scanner` sent in the capture with a SYN-ACK, as tshark shows them. */
function openPortsOnTheWire(segs: TsharkSegment[], scanner: string, target: string): number[] {
  const synFrom = new Set(segs.filter((s) => s.src === scanner && s.dst === target && (s.flags & (SYN | ACK)) === SYN).map((s) => `${s.srcPort} ${s.dstPort}`));
  const answered = segs.filter((s) => s.src === target && s.dst === scanner && (s.flags & (SYN | ACK)) === (SYN | ACK) && synFrom.has(`${s.dstPort} ${s.srcPort}`));
  return [...new Set(answered.map((s) => s.srcPort))].sort((a, b) => a - b);
}

/** The capture-level verdict `code` of `r`, which must be said exactly once. */
function onlyVerdict(r: AnalysisResult, code: string): AnalysisResult['verdicts'][number] {
  const said = r.verdicts.filter((v) => v.code === code);
  expect(said.map((v) => v.code)).toEqual([code]);
  return said[0];
}

const problems = (f: FlowResult) => f.verdicts.filter((v) => v.severity !== 'info').map((v) => v.code);

corpus.describe('public captures', () => {
  it('nmap OS detection (Practical Packet Analysis activeosfingerprinting): one os-fingerprint warning, every probe an info', () => {
    const file = corpus.path('ppa/ppa3/activeosfingerprinting.pcapng');
    const segs = tsharkSegments(file);
    const r = analyzeFile(file);
    const fp = onlyVerdict(r, 'os-fingerprint');
    expect(fp.severity).toBe('warning');
    expect(r.verdicts.map((v) => v.code)).toEqual(['os-fingerprint']);
    const scanner = '172.16.16.128';
    const target = '172.16.16.150';
    expect(fp.facts).toMatchObject({ scanner, target, openTargets: openPortsOnTheWire(segs, scanner, target) });
    // The crafted packets by kind, counted from tshark's flags.
    const crafted = segs.filter((s) => s.src === scanner && isCrafted(s.flags));
    const nulls = crafted.filter((s) => (s.flags & 0x3f) === 0).length;
    const synFin = crafted.filter((s) => (s.flags & 0x03) === 0x03).length;
    const xmas = crafted.filter((s) => (s.flags & 0x3b) === 0x29).length;
    expect(fp.facts.craftedProbes).toEqual({ 'NULL (no flags)': nulls, 'FIN+PSH+URG (Xmas)': xmas, 'SYN+FIN': synFin });
    expect(nulls + synFin + xmas).toBe(crafted.length);
    expect([...(fp.facts.ports as number[])].sort((a, b) => a - b)).toEqual([...new Set(segs.filter((s) => s.src === scanner).map((s) => s.dstPort))].sort((a, b) => a - b));
    // No flow blames the target: before, 7 half-open errors and 7 warnings.
    for (const f of r.flows) expect(problems(f)).toEqual([]);
    expect(r.flows.filter((f) => f.verdicts.some((v) => v.code === 'scan-probe' && v.facts.kind === 'os-fingerprint')).length).toBeGreaterThanOrEqual(14);
  });

  it('Practical Packet Analysis synscan stays one SYN scan with its open ports', () => {
    const file = corpus.path('ppa/ppa3/synscan.pcapng');
    const segs = tsharkSegments(file);
    const r = analyzeFile(file);
    expect(r.verdicts.map((v) => v.code)).toEqual(['port-scan']);
    expect(r.verdicts[0].facts.openTargets).toEqual(openPortsOnTheWire(segs, '172.16.0.8', '64.13.134.52'));
    for (const f of r.flows) expect(f.verdicts.map((v) => v.code)).toEqual(['scan-probe']);
  });

  it('worms probing one home host from many sources (Practical Packet Analysis evilprogram): one distributed-scan', () => {
    const file = corpus.path('ppa/ppa1e/evilprogram.pcap');
    const segs = tsharkSegments(file);
    const target = '24.6.125.19';
    const r = analyzeFile(file);
    const d = onlyVerdict(r, 'distributed-scan');
    // Sources and ports that sent the host a SYN and were refused, as tshark shows them.
    const inbound = segs.filter((s) => s.dst === target && (s.flags & (SYN | ACK)) === SYN);
    const ports = [...new Set(inbound.map((s) => s.dstPort))].sort((a, b) => a - b);
    // Open: the ports whose SYNs the host answered with a SYN-ACK (1025, Windows RPC); every other port refused them.
    const answered = [...new Set(segs.filter((s) => s.src === target && (s.flags & (SYN | ACK)) === (SYN | ACK) && ports.includes(s.srcPort)).map((s) => s.srcPort))].sort((a, b) => a - b);
    expect(d.facts).toMatchObject({ target, ports, openTargets: answered, open: answered.length, closed: ports.length - answered.length, filtered: 0 });
    // Every source that sent the host a SYN, and their /16 networks, as tshark shows them (34 and 32).
    const sources = new Set(inbound.map((s) => s.src));
    expect(d.facts.sources).toBe(sources.size);
    expect(d.facts.networks).toBe(new Set([...sources].map((ip) => ip.split('.').slice(0, 2).join('.'))).size);
    // No refused or syn-timeout error is left on the host: probes that ended before the scan showed are its probes too.
    const failed = r.flows.filter((f) => f.serverIp === target && f.synAcks.length === 0);
    for (const f of failed) expect(f.verdicts.map((v) => v.code)).toEqual(['scan-probe']);
    const firstMarked = Math.min(...failed.map((f) => f.firstPacket));
    expect(d.facts.probesBeforeItShowed).toBeGreaterThan(0);
    expect(d.summary).toContain(`${d.facts.probesBeforeItShowed} probes ended before the scan showed and are said as its probes`);
    expect(firstMarked).toBe(inbound[0].no);
  });

  it('data on a 4-tuple the scanner had reset (Zeek modbus-and-non-modbus-p502): one warning tied to the earlier flow', () => {
    const file = corpus.path('zeek/modbus/modbus-and-non-modbus-p502.pcap');
    const segs = tsharkSegments(file).filter((s) => s.srcPort === 60293 || s.dstPort === 60293);
    const r = analyzeFile(file);
    const flows = r.flows.filter((f) => f.clientPort === 60293);
    expect(flows.map((f) => f.state)).toEqual(['RSTO', 'RSTRH']);
    const [probe, after] = flows;
    // On the wire: the client's RST comes before its data, and the server's RST answers that data.
    const clientRst = segs.find((s) => s.srcPort === 60293 && s.flags & 0x04)!;
    const data = segs.find((s) => s.srcPort === 60293 && s.no > clientRst.no)!;
    const serverRst = segs.find((s) => s.dstPort === 60293 && s.flags & 0x04)!;
    expect(clientRst.no).toBeLessThan(data.no);
    expect(serverRst.no).toBeGreaterThan(data.no);
    expect(after.verdicts.filter((v) => v.severity === 'error')).toEqual([]);
    const reset = after.verdicts.find((v) => v.code === 'rst-by-server')!;
    expect(reset.severity).toBe('warning');
    expect(reset.facts).toMatchObject({ earlierFlow: probe.id, earlierRstPacket: clientRst.no });
    expect(reset.summary).toContain(`#${data.no} came on the 4-tuple the client had reset`);
    expect(problems(probe)).toEqual(['rst-by-client']);
  });
});

/** Flows with a warning or an error. */
const flowsWithProblems = (r: AnalysisResult) => r.flows.filter((f) => problems(f).length > 0);

corpus2.describe('public captures of nDPI', () => {
  it('nDPI tcp_scan (connect probes, then SYN, FIN, NULL and Xmas probes): one port scan naming the open ports', () => {
    const file = corpus2.path('ndpi/tcp_scan.pcapng');
    const segs = tsharkSegments(file);
    const r = analyzeFile(file);
    const scans = onlyVerdict(r, 'port-scan');
    const scanner = '192.168.1.178';
    const target = '192.168.1.2';
    const probed = new Set(segs.filter((s) => s.src === scanner).map((s) => s.dstPort));
    const open = openPortsOnTheWire(segs, scanner, target);
    expect(open).toEqual([80, 443]);
    expect(scans.facts).toMatchObject({ scanner, target, probed: probed.size, open: open.length, openTargets: open, closed: probed.size - open.length, filtered: 0 });
    expect(scans.summary).toContain('2 open (80, 443)');
    // From the second port given crafted probes (FIN, then NULL, then Xmas) on, the scan shows as it
    // happens: those flows are probes; the ones that ended before keep their verdicts and are counted.
    const craftedPorts = [...new Set(segs.filter((s) => s.src === scanner && isCrafted(s.flags)).map((s) => s.dstPort))];
    expect(craftedPorts).toEqual([3390, 3391, 3392]);
    for (const f of r.flows.filter((x) => craftedPorts.slice(1).includes(x.serverPort))) expect(f.verdicts.map((v) => v.code)).toEqual(['scan-probe']);
    expect(scans.facts.probesBeforeItShowed).toBe(probed.size - 2);
  });
});

describe('SYN floods from one source', () => {
  const flood = (answered: boolean) =>
    Array.from({ length: 2000 }, (_, i) => {
      const c = conv({ client: `10.9.0.66:${10000 + i}`, server: '10.0.0.2:80' }).client('S', i * 0.0005);
      return answered ? c.server('SA', i * 0.0005 + 0.0001, '', { options: { mss: 1460 } }) : c;
    });

  it('2,000 SYNs from 2,000 source ports to one service in 1 s: one syn-flood, no per-flow error', () => {
    for (const answered of [true, false]) {
      const r = analyzeConversation(...flood(answered));
      const v = onlyVerdict(r, 'syn-flood');
      expect(v.facts).toMatchObject({ target: '10.0.0.2:80', halfOpen: 2000, sources: 1, synAcked: answered ? 2000 : 0 });
      expect(v.summary).toContain('one source, 10.9.0.66, on 2000 source ports');
      expect(flowsWithProblems(r)).toEqual([]);
    }
  });

  it('a load test refused now and then at 1,000 connections a second is no flood: its refused flows stay refused', () => {
    const conns = Array.from({ length: 1000 }, (_, i) => {
      const c = conv({ client: `10.9.0.8:${30000 + i}`, server: '10.0.0.4:8080' });
      return i % 100 === 99 ? c.client('S', i * 0.001).server('RA', i * 0.001 + 0.0001) : c.handshake(i * 0.001, 0.0002).client('FA', i * 0.001 + 0.0003).server('FA', i * 0.001 + 0.0004).client('A', i * 0.001 + 0.0005);
    });
    const r = analyzeConversation(...conns);
    expect(r.verdicts.map((v) => v.code)).not.toContain('syn-flood');
    const refused = r.flows.filter((f) => f.serverSide.rst !== null);
    expect(refused).toHaveLength(10);
    for (const f of refused) expect(f.verdicts.map((v) => v.code)).toEqual(['refused']);
  });

  it('a client whose 150 connections to a dead server each retry their SYN is not a flood', () => {
    const pool = Array.from({ length: 150 }, (_, i) => conv({ client: `10.9.0.7:${20000 + i}`, server: '10.0.0.3:5432' }).client('S', i * 0.01).client('S', i * 0.01 + 1, '', { seq: 0xffff_fff0 }).client('S', i * 0.01 + 3, '', { seq: 0xffff_fff0 }));
    const r = analyzeConversation(...pool);
    expect(r.verdicts.map((v) => v.code)).not.toContain('syn-flood');
    expect(r.flows.every((f) => f.verdicts.some((v) => v.code === 'syn-timeout'))).toBe(true);
  });
});

describe('nmap-like OS detection, scripted', () => {
  const scanner = '10.1.0.9';
  const target = '10.1.0.20';
  let port = 40000;
  const probe = (dport: number) => conv({ client: `${scanner}:${port++}`, server: `${target}:${dport}` });
  const osProbes = (): Conversation[] => {
    const out: Conversation[] = [];
    // Six SYNs with tiny windows to the open port, each answered, never completed.
    [1, 63, 4, 4, 16, 512].forEach((w, i) => out.push(probe(22).client('S', i * 0.1, '', { window: w, options: { mss: 1460, wscale: 10 } }).server('SA', i * 0.1 + 0.0005)));
    out.push(probe(22).client('', 0.7, '', { window: 128 })); // NULL
    out.push(probe(22).client('SFPU', 0.72, '', { window: 256 })); // SYN+FIN+PSH+URG
    out.push(probe(22).client('A', 0.74, '', { window: 1024 }));
    out.push(probe(1).client('S', 0.76, '', { window: 31337 }).server('RA', 0.7605));
    out.push(probe(1).client('A', 0.78, '', { window: 32768 }).server('R', 0.7805));
    out.push(probe(1).client('FPU', 0.8, '', { window: 65535 }).server('RA', 0.8005));
    return out;
  };

  it('is one os-fingerprint naming prober, target, ports and probes; no flow has a problem', () => {
    port = 40000;
    const r = analyzeConversation(...osProbes());
    expect(r.verdicts.map((v) => v.code)).toEqual(['os-fingerprint']);
    const v = r.verdicts[0];
    expect(v.facts).toMatchObject({ scanner, target, openTargets: [22], tinySynWindows: [1, 63, 4, 4, 16, 512] });
    expect(v.facts.craftedProbes).toEqual({ 'NULL (no flags)': 1, 'FIN+PSH+URG (Xmas)': 1, 'SYN+FIN': 1 });
    expect(v.summary).toMatch(/^10\.1\.0\.9 probed 10\.1\.0\.20 with 12 TCP probes in .* to ports 1 \(closed\), 22 \(open\)/);
    expect(flowsWithProblems(r)).toEqual([]);
    for (const f of r.flows) expect(f.verdicts.map((x) => x.code)).toEqual(['scan-probe']);
  });

  it('the same SYNs with ordinary windows and no crafted packet are not a fingerprint', () => {
    const r = analyzeConversation(...Array.from({ length: 6 }, (_, i) => conv({ client: `${scanner}:${41000 + i}`, server: `${target}:22` }).handshake(i * 0.1).client('PA', i * 0.1 + 0.002, 'SSH-2.0-x\r\n')));
    expect(r.verdicts).toEqual([]);
  });
});

describe('scanners and open ports', () => {
  it('a port answered by SYN-ACK is open though the scanner resets it at once', () => {
    const probes = Array.from({ length: 20 }, (_, i) => {
      const c = conv({ client: `10.2.0.5:${50000 + i}`, server: `10.2.0.6:${100 + i}` }).client('S', i * 0.01);
      return i === 3 || i === 7 ? c.server('SA', i * 0.01 + 0.0002).client('R', i * 0.01 + 0.0003, '', { seq: 0xffff_fff1 }) : c.server('RA', i * 0.01 + 0.0002);
    });
    const r = analyzeConversation(...probes);
    expect(r.verdicts.map((v) => [v.code, v.facts.openTargets, v.facts.closed])).toEqual([['port-scan', [103, 107], 18]]);
    const open = r.flows.filter((f) => f.verdicts[0].facts.state === 'open');
    expect(open.map((f) => f.serverPort)).toEqual([103, 107]);
    for (const f of open) expect(f.verdicts[0].summary).toMatch(/open \(SYN-ACK #\d+, reset by the scanner #\d+\)$/);
  });

  it('FIN probes without ACK to two ports are a port scan; one after the client\'s own SYN is a stack closing early, not a probe', () => {
    const fins = [443, 8443].map((p, i) => conv({ client: `10.2.0.5:${50990 + i}`, server: `10.2.0.6:${p}` }).client('F', i * 0.5, '', { window: 1024 }).server('RA', i * 0.5 + 0.0003));
    const r = analyzeConversation(...fins);
    expect(r.verdicts.map((v) => [v.code, v.facts.probed, v.facts.closed, v.facts.craftedProbes])).toEqual([['port-scan', 2, 2, 2]]);
    expect(r.flows.at(-1)!.verdicts.map((v) => v.code)).toEqual(['scan-probe']);
    // As in Zeek's fin_retransmission trace: SYN, FIN before the SYN-ACK came, then the handshake's ACK.
    const early = conv({ client: '10.2.0.7:55344', server: '10.2.0.8:443' }).client('S', 0).client('F', 0.29, '', { seq: 0xffff_fff1 });
    early.server('SA', 0.3).client('FA', 0.307, '', { seq: 0xffff_fff1 }).server('R', 0.61);
    const r2 = analyzeConversation(early);
    expect(r2.verdicts).toEqual([]);
    expect(r2.flows[0].verdicts.map((v) => v.code)).not.toContain('scan-probe');
  });

  it('many clients refused on one port of a host that is down: refused errors, no distributed scan', () => {
    const clients = Array.from({ length: 12 }, (_, i) => conv({ client: `10.${i}.0.1:${30000 + i}`, server: '10.50.0.2:5432' }).client('S', i * 2).server('RA', i * 2 + 0.0002));
    const r = analyzeConversation(...clients);
    expect(r.verdicts.map((v) => v.code)).not.toContain('distributed-scan');
    expect(r.flows.every((f) => f.verdicts.map((v) => v.code).join() === 'refused')).toBe(true);
  });

  it('sources on many networks each refused on a few ports of one host: a distributed scan, streamed as kept', () => {
    const worms = Array.from({ length: 8 }, (_, i) =>
      [445, 1433, 3389, 5900, 23].slice(0, 2 + (i % 3)).map((p, k) =>
        conv({ client: `${20 + i * 7}.${i}.3.4:${3000 + k}`, server: `192.0.2.80:${p + (i % 2)}` })
          .client('S', i * 60 + k * 0.01)
          .server('RA', i * 60 + k * 0.01 + 0.0002),
      ),
    ).flat();
    const r = analyzeConversation(...worms);
    const d = onlyVerdict(r, 'distributed-scan');
    expect(d.facts).toMatchObject({ target: '192.0.2.80', sources: 8, networks: 8, open: 0, filtered: 0 });
    expect(d.facts.probes).toBe(worms.length);
    expect(d.facts.probesBeforeItShowed).toBeGreaterThan(0);
    // The first sources' probes ended (refused) before the pattern showed; they are its probes all the same.
    for (const f of r.flows) expect(f.verdicts.map((v) => v.code)).toEqual(['scan-probe']);
    // Streamed flow by flow, as `tcpwhy analyze` reports them, the same.
    const streamed: FlowResult[] = [];
    const analyzer = new Analyzer({ file: 'worms.pcap', retainFlows: false, onFlowJudged: (f) => streamed.push(f) });
    worms.flatMap((c) => c.packets).sort((a, b) => a.t - b.t).forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6) })));
    const result = analyzer.finish({ file: 'worms.pcap', format: 'pcap', linkTypes: [1], snaplen: 262144, packets: 0, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false });
    expect(streamed).toHaveLength(worms.length);
    for (const f of streamed) expect(f.verdicts.map((v) => v.code)).toEqual(['scan-probe']);
    expect(result.verdicts.find((v) => v.code === 'distributed-scan')!.summary).toBe(d.summary);
  });

  it('counts an IPv6 /48 once however its addresses are written: sources in two /48s are no distributed scan', () => {
    // 2a00:1450::1 and 2a00:1450:0:1::2 share the /48 2a00:1450:0::; only 2a00:1450:5:: is another.
    const written = (i: number) => [`2a00:1450::${i + 1}`, `2a00:1450:0:1::${i + 1}`, `2a00:1450:5::${i + 1}`][i % 3];
    const sources = Array.from({ length: 8 }, (_, i) =>
      [445, 1433, 3389, 5900, 23].slice(0, 2 + (i % 3)).map((p, k) =>
        conv({ client: `[${written(i)}]:${3000 + k}`, server: `[2a00:1450:99::80]:${p + (i % 2)}` })
          .client('S', i * 60 + k * 0.01)
          .server('RA', i * 60 + k * 0.01 + 0.0002),
      ),
    ).flat();
    const r = analyzeConversation(...sources);
    expect(r.verdicts.map((v) => v.code)).not.toContain('distributed-scan');
    expect(r.flows.every((f) => f.verdicts.map((v) => v.code).join() === 'refused')).toBe(true);
  });
});

describe('a server retransmitting after the client reset', () => {
  const exchange = (clientResets: boolean) => {
    const c = conv({ client: '10.3.0.1:51000', server: '10.3.0.2:80' }).handshake(0).client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.003);
    const seq = c.s.next;
    const body = `HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${'x'.repeat(1000)}`;
    c.server('PA', 0.01, body);
    if (clientResets) c.client('R', 0.011, '', { seq: c.c.next });
    for (const t of [0.22, 0.43, 0.85, 1.7, 3.4]) c.server('PA', t, body, { seq });
    return analyzeConversation(c).flows[0];
  };

  it('is explained by the RST: a warning naming it, not "the client stopped acknowledging"', () => {
    const f = exchange(true);
    const v = f.verdicts.find((x) => x.code === 'retransmission')!;
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ direction: 'server', cause: 'peer-reset', retransmissionsAfterPeerRst: 5, stalled: false });
    expect(v.summary).toContain('the client had reset the connection (RST #7) and all of them came after it');
    expect(v.summary).not.toContain('stopped acknowledging');
    expect(f.verdicts.filter((x) => x.severity === 'error')).toEqual([]);
  });

  it('without the RST it stays the error it was', () => {
    const v = exchange(false).verdicts.find((x) => x.code === 'retransmission')!;
    expect(v.severity).toBe('error');
    expect(v.summary).toContain('the client stopped acknowledging');
  });
});

corpus.describe('streaming', () => {
  corpus2.it('scan and fingerprint probes get the verdicts they get when flows are kept', () => {
    for (const file of [corpus.path('ppa/ppa3/activeosfingerprinting.pcapng'), corpus2.path('ndpi/tcp_scan.pcapng'), corpus.path('ppa/ppa1e/evilprogram.pcap')]) {
      const kept = analyzeFile(file);
      const streamed: FlowResult[] = [];
      const result = streamFlows(file, (f) => streamed.push(f));
      // Codes and summaries: a streamed flow's waiting time counts to its own end, not the capture's.
      const said = (fs: FlowResult[]) => fs.map((f) => f.verdicts.map((v) => (v.code === 'syn-timeout' ? v.code : `${v.code}: ${v.summary}`)));
      expect(said(streamed.sort((a, b) => a.id - b.id))).toEqual(said(kept.flows));
      expect(result.verdicts).toEqual(kept.verdicts);
    }
  });
});
