// Cipher suites and alerts are shown by name wherever tcpwhy shows them (verdict summaries and
// facts, the ladder's dissector events, the JSON flow), checked on the bundled TLS samples against
// tshark's names for the same packets.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cipherSuiteName } from '../../src/dissect/tls-ciphers.js';
import { analyzeFile } from '../../src/pipeline.js';
import { flowToJson } from '../../src/report/json.js';
import { hasTool } from '../helpers/tools.js';

const SAMPLES = join(process.cwd(), 'samples');
const TLS_SAMPLES = readdirSync(SAMPLES).filter((f) => /^tls.*\.pcap$/.test(f));
const hasTshark = hasTool('tshark', ['--version']);

/** tshark's "Cipher Suite: NAME (0xNNNN)" of each ServerHello, by frame number. */
function tsharkCiphers(file: string): Map<number, { name: string; code: string }> {
  const out = spawnSync('tshark', ['-r', file, '-Y', 'tls.handshake.type == 2', '-V'], { encoding: 'utf8', timeout: 20_000 }).stdout;
  const found = new Map<number, { name: string; code: string }>();
  let frame = 0;
  for (const line of out.split('\n')) {
    const f = /^Frame (\d+):/.exec(line);
    if (f) frame = Number(f[1]);
    const c = /^\s+Cipher Suite: (\S+) \((0x[0-9a-f]{4})\)$/.exec(line);
    if (c) found.set(frame, { name: c[1], code: c[2] });
  }
  return found;
}

describe('TLS cipher suites and alerts by name', () => {
  it('names the suites tshark names, and shows the code of one it does not list', () => {
    expect(cipherSuiteName(0x1302)).toBe('TLS_AES_256_GCM_SHA384');
    expect(cipherSuiteName(0xc02b)).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    expect(cipherSuiteName(0xcca8)).toBe('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256');
    expect(cipherSuiteName(0x000a)).toBe('TLS_RSA_WITH_3DES_EDE_CBC_SHA');
    expect(cipherSuiteName(0xfeff)).toBe('0xfeff');
  });

  it.each(TLS_SAMPLES)('%s: no cipher shown as a bare code, alerts as name (number)', (name) => {
    const file = join(SAMPLES, name);
    const { flows } = analyzeFile(file);
    const tshark = hasTshark ? tsharkCiphers(file) : null;
    let hellos = 0;
    for (const f of flows) {
      const tls = f.app?.tls;
      if (!tls) continue;
      const texts = [...f.verdicts.map((v) => v.summary), ...(f.app?.events ?? []).map((e) => e.text), JSON.stringify(flowToJson(f, { detail: true }))];
      for (const text of texts) expect(text, name).not.toMatch(/cipher"?:? ?"?0x[0-9a-f]{4}/);
      const hello = tls.serverHello;
      if (hello) {
        hellos++;
        expect(hello.cipher, name).toMatch(/^TLS_[A-Z0-9_]+$/);
        if (tshark) expect({ name: hello.cipher, code: hello.cipherCode }).toEqual(tshark.get(hello.no));
        // Where the hello is shown: the ladder's event and, when the handshake worked, the tls-ok summary.
        expect(f.app!.events.find((e) => e.no === hello.no)?.text).toContain(`cipher ${hello.cipher}`);
        const ok = f.verdicts.find((v) => v.code === 'tls-ok');
        if (ok) {
          // Followed by the SNI and ALPN, or, when the client sent neither, by the packet numbers.
          expect(ok.summary).toMatch(new RegExp(`cipher ${hello.cipher}(,| \\()`));
          expect(ok.facts.cipher).toBe(hello.cipher);
        }
      }
      for (const a of tls.alerts) {
        expect(a.name, name).toMatch(/^[a-z_]+$/);
        expect(f.app!.events.find((e) => e.no === a.no)?.text).toBe(`TLS alert ${a.level} ${a.name} (${a.description})`);
        const said = f.verdicts.find((v) => v.code === 'tls-alert');
        if (said) expect(said.summary).toContain(`alert ${a.name} (${a.description})`);
      }
    }
    // Each sample but the plaintext server has a ServerHello or an alert to show.
    if (name !== 'tls-plaintext-server.pcap') expect(hellos + flows.reduce((n, f) => n + (f.app?.tls?.alerts.length ?? 0), 0), name).toBeGreaterThan(0);
  });
});
