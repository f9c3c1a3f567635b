// Real traffic for tests: runs a scenario from scripts/scenarios/ (real servers and clients on
// loopback or in throwaway network namespaces, captured with tcpdump) and hands back the pcap.
//
//   describe.skipIf(!canCapture())('refused', () => {
//     it('reports refused', async () => { const pcap = await captureScenario('refused'); ... });
//   });

import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, type ScenarioResult } from '../../scripts/lib/scenario.mjs';
import { hasTool } from './tools.js';

export type { ScenarioResult };

export interface CaptureScenarioOptions {
  /** Where to write the capture; a fresh temporary directory when omitted. */
  dir?: string;
  /** Server (or target) port; the scenario picks one when omitted. */
  port?: number;
  /** Capture snap length, for scenarios that honour it (lossy-transfer). */
  snaplen?: number;
  /** Scan style for port-scan: 'syn' (nmap -sS, the default) or 'connect' (nmap -sT). */
  style?: 'syn' | 'connect';
}

/** Scenarios that build network namespaces (and iptables rules / sysctls inside them). */
export const NAMESPACE_SCENARIOS: readonly string[] = [
  'arp-unanswered',
  'half-open',
  'listen-overflow',
  'lossy-transfer',
  'pmtu-blackhole',
  'port-reuse',
  'syn-timeout',
];

const createdDirs: string[] = [];

/** Runs scenario `name` and resolves with the path of its fresh pcap. */
export async function captureScenario(name: string, opts: CaptureScenarioOptions = {}): Promise<string> {
  return (await runCaptureScenario(name, opts)).file;
}

/** Like captureScenario, but also returns the scenario's own description of what it produced. */
export async function runCaptureScenario(name: string, opts: CaptureScenarioOptions = {}): Promise<ScenarioResult> {
  const dir = opts.dir ?? makeCaptureDir(name);
  return runScenario(name, { ...opts, dir });
}

/** Removes every temporary directory captureScenario created (call from afterAll). */
export function removeCaptureDirs(): void {
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function makeCaptureDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tcpwhy-${name}-`));
  createdDirs.push(dir);
  return dir;
}


const isRoot = (): boolean => process.getuid?.() === 0;

/** True when loopback scenarios can run here: root and tcpdump. */
export function canCapture(): boolean {
  return isRoot() && hasTool('tcpdump', ['--version']);
}

/**
 * The live sources a test can open here: tcpdump always, cap only when its optional binding was
 * built (npm builds it only where libpcap-dev is installed). A file that leaves cap out says so in
 * one line.
 */
export function liveSourcesHere(file: string): Array<'tcpdump' | 'cap'> {
  try {
    createRequire(import.meta.url)('cap');
    return ['tcpdump', 'cap'];
  } catch {
    console.log(`skipped the cap source's tests in ${file}: the optional cap binding is not built (apt-get install libpcap-dev, then npm rebuild cap)`);
    return ['tcpdump'];
  }
}

/** True when namespace scenarios can run too: also ip, iptables and python3. */
export function canUseNamespaces(): boolean {
  return canCapture() && hasTool('ip', ['netns', 'list']) && hasTool('iptables', ['--version']) && hasTool('python3', ['--version']);
}

/** True when a scenario's requirements are met (see NAMESPACE_SCENARIOS). */
export function canRunScenario(name: string): boolean {
  return NAMESPACE_SCENARIOS.includes(name) ? canUseNamespaces() : canCapture();
}

/** True when capture files can be read back with tcpdump (no root needed). */
export function canReadCaptures(): boolean {
  return hasTool('tcpdump', ['--version']);
}

/** One packet as tcpdump prints it, reduced to what scenario checks need. */
export interface DumpedPacket {
  /** Seconds since the first packet. */
  t: number;
  kind: 'tcp' | 'arp' | 'other';
  /** "addr.port" for TCP, as tcpdump prints it. */
  src: string;
  dst: string;
  /** tcpdump's flag string without brackets: "S", "S.", ".", "P.", "F.", "R.", "FP.". */
  flags: string;
  /** Sequence number or range as printed ("1:61", "0"); empty when tcpdump omits it. */
  seq: string;
  /** Advertised window (tcpdump's scaled-down "win" field). */
  win: number;
  /** TCP payload length. */
  length: number;
  line: string;
}

/** Reads a capture with `tcpdump -r FILE -nn -tt` and parses every line (tests and checks only). */
export function dumpCapture(file: string): DumpedPacket[] {
  const result = spawnSync('tcpdump', ['-r', file, '-nn', '-tt'], { encoding: 'utf8', timeout: 20_000 });
  if (result.status !== 0) throw new Error(`tcpdump -r ${file}: ${result.stderr}`);
  const lines = result.stdout.split('\n').filter((line) => line.trim() !== '');
  const first = lines.length > 0 ? Number.parseFloat(lines[0]!) : 0;
  return lines.map((line) => parseDumpLine(line, first));
}

const TCP_LINE = /^(\d+\.\d+) IP6? (\S+) > (\S+): Flags \[([^\]]*)\](?:, seq (\S+?),)?.*?win (\d+).*?, length (\d+)/;

function parseDumpLine(line: string, first: number): DumpedPacket {
  const t = Number.parseFloat(line) - first;
  const tcp = TCP_LINE.exec(line);
  if (tcp) {
    return {
      t,
      kind: 'tcp',
      src: tcp[2]!,
      dst: tcp[3]!.replace(/:$/, ''),
      flags: tcp[4]!,
      seq: tcp[5] ?? '',
      win: Number(tcp[6]),
      length: Number(tcp[7]),
      line,
    };
  }
  const kind = / ARP, /.test(line) ? 'arp' : 'other';
  return { t, kind, src: '', dst: '', flags: '', seq: '', win: 0, length: 0, line };
}

/** `count` connections to 127.0.0.1:`port`, `atOnce` at a time, each sending an HTTP request and reading the answer; rejects after `timeoutMs`. */
export function connectionBurst(port: number, count: number, atOnce: number, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    const timer = setTimeout(() => reject(new Error(`${done} of ${count} connections done after ${timeoutMs} ms`)), timeoutMs);
    const one = (): void => {
      if (started === count) return;
      started++;
      const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nhost: t\r\n\r\n'));
      c.on('data', () => {});
      c.on('error', () => {});
      c.on('close', () => {
        if (++done === count) {
          clearTimeout(timer);
          resolve();
        } else one();
      });
    };
    for (let i = 0; i < atOnce; i++) one();
  });
}
