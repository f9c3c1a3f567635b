import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderInterfaces } from '../../src/cli/commands/live.js';
import { run } from '../../src/cli/main.js';
import { closestCommand } from '../../src/cli/suggest.js';
import { useCorpus } from '../helpers/corpus.js';
import { memoryIo } from '../helpers/io.js';

// What a user of a commander CLI expects: help when nothing is asked, a suggestion for a typo,
// examples and exit codes in every --help, --fail-on on diff, a flow filter that refuses what it
// does not understand, and `live --list` that blames capture rights only when they are missing.

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const corpus = useCorpus();

type JsonFlow = { id: number; client: string; server: string; verdicts: { severity: string }[] };

async function flowsOf(file: string, ...args: string[]): Promise<{ code: number; flows: JsonFlow[]; err: string }> {
  const io = memoryIo();
  const code = await run(['analyze', file, '--json', ...args], io);
  return { code, flows: code === 2 ? [] : (JSON.parse(io.out).flows as JsonFlow[]), err: io.err };
}

/** Runs tcpwhy with `args`, expects a usage error (exit 2, nothing on stdout) and returns what it said on stderr. */
async function usageError(args: string[]): Promise<string> {
  const io = memoryIo();
  expect(await run(args, io)).toBe(2);
  expect(io.out).toBe('');
  return io.err;
}

describe('tcpwhy alone and unknown first words', () => {
  it('prints the help with its examples and exit codes on stderr, exit 2 (a usage error: nothing was asked)', async () => {
    const err = await usageError([]);
    expect(err).toMatch(/^Usage: tcpwhy /);
    for (const command of ['analyze', 'flow', 'diff', 'live']) expect(err).toContain(`  ${command} [options]`);
    expect(err).toMatch(/Examples:\n[\s\S]*Exit codes:\n {2}0 [\s\S]* {2}3 /);
  });

  it.each([
    ['analyse', 'analyze'],
    ['analyz', 'analyze'],
    ['flwo', 'flow'],
    ['dif', 'diff'],
    ['lvie', 'live'],
  ])("'tcpwhy %s FILE' analyses nothing and suggests %s, exit 2", async (typo, meant) => {
    const err = await usageError([typo, sample('refused.pcap')]);
    expect(err).toContain(`unknown command '${typo}'`);
    expect(err).toContain(`did you mean ${meant}?`);
  });

  it('names the commands when the first word is far from all of them and is not a file, exit 2', async () => {
    const err = await usageError(['capture-from-tuesday.pcap']);
    expect(err).toContain("'capture-from-tuesday.pcap' is neither a command (analyze, flow, diff, live) nor a file");
  });

  it('still takes a bare existing file as analyze', async () => {
    const io = memoryIo();
    expect(await run([sample('refused.pcap'), '--json'], io)).toBe(0);
    expect(JSON.parse(io.out).flows[0].verdicts[0].code).toBe('refused');
  });

  it('suggests by edit distance only what is close', () => {
    const commands = ['analyze', 'flow', 'diff', 'live', 'help'];
    expect(closestCommand('ANALYSE', commands)).toBe('analyze');
    expect(closestCommand('hlep', commands)).toBe('help');
    expect(closestCommand('capture.pcap', commands)).toBeNull();
    expect(closestCommand('x', commands)).toBeNull();
  });
});

/** A line of the help's Examples as argv, capture names replaced by samples; null when it is not one tcpwhy run. */
function exampleArgv(line: string): string[] | null {
  const command = line.replace(/\s+#.*$/, '').trim();
  if (!command.startsWith('tcpwhy ') || command.includes('|')) return null;
  const files: Record<string, string> = {
    'capture.pcap': sample('listen-overflow.pcap'),
    'big.pcap': sample('listen-overflow.pcap'),
    'good.pcap': sample('nginx-ws-good.pcap'),
    'bad.pcap': sample('nginx-ws-bad.pcap'),
  };
  const words = [...command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
  return words.slice(1).map((w) => w.replace(/^(capture|big|good|bad)\.pcap/, (name) => files[name]));
}

describe('--help of each command', () => {
  it.each(['analyze', 'flow', 'diff', 'live'])('%s --help ends with examples, then the exit codes 0, 2 and 3, exit 0', async (command) => {
    const io = memoryIo();
    expect(await run([command, '--help'], io)).toBe(0);
    const examples = /\nExamples:\n((?: {2}.+\n)+)\nExit codes:\n((?: {2}.+\n)+)$/.exec(io.out);
    expect(examples, io.out).not.toBeNull();
    const lines = examples![1].trimEnd().split('\n');
    expect(lines.every((l) => l.includes(`tcpwhy ${command}`))).toBe(true);
    expect(examples![2]).toMatch(/^ {2}0 /m);
    expect(examples![2]).toMatch(/^ {2}2 /m);
    expect(examples![2]).toMatch(/^ {2}3 /m);
    expect(examples![2].includes('  1 ')).toBe(command !== 'live'); // live has no --fail-on
  });

  it("wraps the options to the terminal's width, 80 columns off a terminal", async () => {
    const widest = async (columns: number | undefined) => {
      const io = memoryIo();
      io.columns = columns;
      expect(await run(['analyze', '--help'], io)).toBe(0);
      const options = io.out.slice(0, io.out.indexOf('\nExamples:'));
      return Math.max(...options.split('\n').map((l) => l.length));
    };
    expect(await widest(100)).toBeLessThanOrEqual(100);
    expect(await widest(100)).toBeGreaterThan(90);
    expect(await widest(undefined)).toBeLessThanOrEqual(80);
    expect(await widest(200)).toBeGreaterThan(100);
  });

  it.each(['analyze', 'flow', 'diff'])('the examples of %s --help run on the samples as written (exit 0 or 1, nothing on stderr; a filter may match no flow of the sample)', async (command) => {
    const help = memoryIo();
    await run([command, '--help'], help);
    const runnable = /\nExamples:\n((?: {2}.+\n)+)/.exec(help.out)![1].split('\n').map(exampleArgv).filter((a) => a !== null);
    expect(runnable.length).toBeGreaterThanOrEqual(2);
    for (const argv of runnable) {
      const io = memoryIo();
      const code = await run(argv, io);
      if (code === 2 && /no flow matches --filter/.test(io.err)) continue; // understood, but written for another capture
      expect([0, 1], argv.join(' ')).toContain(code);
      expect(io.err, argv.join(' ')).toBe('');
      expect(io.out.length).toBeGreaterThan(0);
    }
  });
});

describe('diff --fail-on: the BAD flow is still failing', () => {
  it('exits 1 when the BAD flow has a verdict at or above the severity, 0 below it or without --fail-on', async () => {
    const file = sample('listen-overflow.pcap');
    const { flows } = await flowsOf(file);
    const failed = flows.find((f) => f.verdicts.some((v) => v.severity === 'error'))!;
    const infoOnly = flows.find((f) => f.verdicts.length > 0 && f.verdicts.every((v) => v.severity === 'info'))!;
    expect(failed && infoOnly).toBeTruthy();
    const diff = async (good: JsonFlow, bad: JsonFlow, ...args: string[]) => {
      const io = memoryIo();
      const code = await run(['diff', `${file}#${good.id}`, `${file}#${bad.id}`, ...args], io);
      expect(io.err).toBe('');
      expect(io.out).toMatch(/conclusion/i);
      return code;
    };
    expect(await diff(infoOnly, failed)).toBe(0);
    expect(await diff(infoOnly, failed, '--fail-on', 'error')).toBe(1);
    expect(await diff(infoOnly, failed, '--fail-on', 'error', '--json')).toBe(1);
    // The GOOD flow's error does not count: only BAD's verdicts say whether the failure is still there.
    expect(await diff(failed, infoOnly, '--fail-on', 'warning')).toBe(0);
    expect(await diff(failed, infoOnly, '--fail-on', 'info')).toBe(1);
  });

  it('takes the same severities as analyze, and refuses others (exit 2)', async () => {
    const err = await usageError(['diff', sample('nginx-ws-good.pcap'), sample('nginx-ws-bad.pcap'), '--fail-on', 'fatal']);
    expect(err).toContain("'fatal'");
    expect(await run(['diff', sample('nginx-ws-good.pcap'), sample('nginx-ws-bad.pcap'), '--fail-on', 'error'], memoryIo())).toBe(1);
  });
});

describe('--filter', () => {
  it.each([
    ['host 10.0.0.1 or host 10.0.0.2', "'or'"],
    ['not port 80', "'not'"],
    ['tcp port 80', "'tcp'"],
    ['host example.com', "'example.com' is not an IP address"],
    ['host 10.0.0.0/33', "'10.0.0.0/33'"],
    ['net fd00::/129', "'fd00::/129'"],
    ['net 10.0.0.0/8:80', "'10.0.0.0/8:80'"],
    ['port 70000', "'70000'"],
    ['src', "'src' needs a value"],
    ['port 80 and', "'and' at the end"],
    ['host 10.0.0.1 port 80', "cannot read 'port': terms are joined with 'and'"],
    ['portrange 1-1024', "'portrange'"],
    ['80', "'80' is not an IP address"],
  ])('refuses %j with exit 2, naming what it cannot read, before any output', async (expr, named) => {
    const err = await usageError(['analyze', sample('refused.pcap'), '--filter', expr]);
    expect(err).toContain(named);
    expect(err).toMatch(/^tcpwhy: --filter: /);
  });

  it('refuses before the first byte of a multi-file JSON document', async () => {
    const err = await usageError(['analyze', sample('refused.pcap'), sample('http-clean.pcap'), '--json', '--filter', 'dst port 80 or dst port 443']);
    expect(err).toContain("cannot read 'or'");
  });

  it('refuses a bad filter on diff --filter-good too', async () => {
    const err = await usageError(['diff', sample('nginx-ws-good.pcap'), sample('nginx-ws-bad.pcap'), '--filter-good', 'src host 10.0.0.0/99']);
    expect(err).toContain("'10.0.0.0/99'");
  });

  corpus.it('src = client, dst = server, CIDR nets and hosts, IPv4 and IPv6 (ppa3 http_ip4and6: one GET over each)', async () => {
    const file = corpus.path('ppa/ppa3/http_ip4and6.pcapng');
    const all = (await flowsOf(file)).flows;
    expect(all.length).toBe(2); // tshark -z conv,tcp: 172.16.16.140:53350 -> .139:80 and 2001:db8:1:2::1002 -> ::1000 port 80
    const ids = (pred: (f: JsonFlow) => boolean) => all.filter(pred).map((f) => f.id).sort();
    const v6 = (f: JsonFlow) => f.client.startsWith('[');
    const cases: Array<[string, (f: JsonFlow) => boolean]> = [
      ['dst port 80', (f) => f.server.endsWith(':80')],
      ['src port 80', (f) => f.client.endsWith(':80')],
      ['port 80', () => true],
      ['host 172.16.16.0/24', (f) => !v6(f)],
      ['net 172.16.0.0/12 and dst port 80', (f) => !v6(f)],
      ['net 10.0.0.0/8', () => false],
      ['src host 172.16.16.140', (f) => f.client.startsWith('172.16.16.140:')],
      ['dst host 172.16.16.140', (f) => f.server.startsWith('172.16.16.140:')],
      ['host 2001:db8:1:2::/64', v6],
      ['net 2001:db8::/32 and src port 35023', (f) => v6(f) && f.client.endsWith(':35023')],
      ['src 2001:db8:1:2:0:0:0:1002', (f) => f.client.startsWith('[2001:db8:1:2::1002]')],
      ['dst 2001:db8:1:2:0:0:0:1002', (f) => f.server.startsWith('[2001:db8:1:2::1002]')],
      ['server [2001:db8:1:2::1000]:80', (f) => f.server === '[2001:db8:1:2::1000]:80'],
      ['client [2001:db8:1:2::1000]:80', (f) => f.client === '[2001:db8:1:2::1000]:80'],
      ['host ::/0', v6],
      ['host 0.0.0.0/0', (f) => !v6(f)],
    ];
    for (const [expr, expected] of cases) {
      const { code, flows, err } = await flowsOf(file, '--filter', expr);
      expect(code, `${expr}: ${err}`).toBe(0);
      expect(flows.map((f) => f.id).sort(), expr).toEqual(ids(expected));
    }
    // Most cases select a flow: the filters are not checked only against empty answers.
    expect(cases.filter(([, p]) => all.some(p)).length).toBeGreaterThanOrEqual(10);
  });
});

describe('live --list', () => {
  it('blames capture rights only where tcpdump said permission was missing', () => {
    const text = renderInterfaces([
      { name: 'eth0', description: '', addresses: ['192.0.2.2/24'], loopback: false, linkTypes: [], linkTypesError: "eth0: You don't have permission to perform this capture on that device (socket: Operation not permitted)" },
      { name: 'ifb0', description: '', addresses: [], loopback: false, linkTypes: [], linkTypesError: 'ifb0: That device is not up' },
      { name: 'lo', description: '', addresses: ['127.0.0.1/8'], loopback: true, linkTypes: ['EN10MB (Ethernet)'], linkTypesError: '' },
    ]);
    expect(text.split('\n')).toEqual([
      'eth0',
      '    192.0.2.2/24',
      '    link type unknown (needs capture rights)',
      'ifb0',
      '    no addresses',
      '    link type unknown (ifb0: That device is not up)',
      'lo [loopback]',
      '    127.0.0.1/8',
      '    EN10MB (Ethernet)',
    ]);
    expect(renderInterfaces([])).not.toMatch(/rights|installed/);
  });

  const tcpdump = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  it.skipIf(tcpdump.error !== undefined)('on this machine, gives for every interface without link types the reason tcpdump -L gives', async () => {
    const io = memoryIo();
    expect(await run(['live', '--list'], io)).toBe(0);
    const blocks = io.out.trimEnd().split(/\n(?=\S)/);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const name = /^(\S+)/.exec(block)![1];
      const unknown = /link type unknown \((.*)\)$/.exec(block);
      const probe = spawnSync('tcpdump', ['-L', '-i', name], { encoding: 'utf8' });
      if (!unknown) {
        expect(probe.status, name).toBe(0);
        continue;
      }
      expect(probe.status, name).not.toBe(0);
      const permission = /permission|not permitted/i.test(probe.stderr);
      if (permission) expect(unknown[1]).toBe('needs capture rights');
      else expect(probe.stderr.replace(/\s+/g, ' ')).toContain(unknown[1]);
    }
    if (process.getuid?.() === 0) expect(io.out).not.toContain('capture rights');
  });
});
