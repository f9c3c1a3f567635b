// The HTML reports loaded in a real browser: headless Chromium, driven over the DevTools protocol.
// Each page must load without a console message, an exception or any request besides its own file,
// and show in its DOM the ladders (one SVG group per packet, each with its arrow) and the verdicts
// the pipeline gives. Skipped, with one line, where Chromium is not installed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium, type Browser } from '../../scripts/lib/chromium.mjs';
import { run } from '../../src/cli/main.js';
import { readFlowPackets } from '../../src/diff/packets.js';
import { analyzeFile } from '../../src/pipeline.js';
import { HOSTILE, writeHostileCapture } from '../helpers/hostile.js';
import { memoryIo } from '../helpers/io.js';

const chromium = findChromium();
if (!chromium) console.log('test/report/html-browser.test.ts: skipped: no chromium on the PATH (apt-get install chromium)');

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-html-browser-'));
const SEV_MARK = { error: 'ERROR', warning: 'WARN', info: 'info' } as const;

interface PageCase {
  name: string;
  args: string[];
  /** The flows whose ladders the page draws: [file, flow id] (diff: GOOD then BAD). */
  ladders: Array<[string, number]>;
  /** Packets marked as the first divergence (diff pages). */
  diverge?: number[];
}

const hostile = writeHostileCapture();
const CASES: PageCase[] = [
  { name: 'WebSocket behind nginx', args: ['analyze', sample('nginx-ws-bad.pcap')], ladders: [[sample('nginx-ws-bad.pcap'), 1], [sample('nginx-ws-bad.pcap'), 2]] },
  { name: 'TLS failure', args: ['analyze', sample('tls-unknown-ca.pcap')], ladders: [[sample('tls-unknown-ca.pcap'), 1]] },
  { name: 'syn-timeout', args: ['analyze', sample('syn-timeout.pcap')], ladders: [[sample('syn-timeout.pcap'), 1]] },
  { name: 'diff', args: ['diff', sample('ws-healthy.pcap'), sample('ws-http10-fin.pcap')], ladders: [[sample('ws-healthy.pcap'), 1], [sample('ws-http10-fin.pcap'), 1]], diverge: [4, 4] },
  { name: 'hostile bytes', args: ['flow', hostile, '1'], ladders: [[hostile, 1]] },
];

interface Dom {
  scripts: number;
  elementsWithHandlers: number;
  ladders: Array<{ packets: number[]; arrows: number; heads: number; width: number; marks: string[] }>;
  verdicts: string[];
  timelineBars: number;
  diverge: number[];
  text: string;
  background: string;
}

const DOM_QUERY = `(() => {
  const ladders = [...document.querySelectorAll('svg.ladder')];
  return {
    scripts: document.scripts.length,
    elementsWithHandlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
    ladders: ladders.map((s) => ({
      packets: [...s.querySelectorAll('g.pkt')].map((g) => Number(g.dataset.no)),
      arrows: s.querySelectorAll('g.pkt > line.arrow').length,
      heads: s.querySelectorAll('g.pkt > polygon.head').length,
      width: s.getBoundingClientRect().width,
      marks: [...s.querySelectorAll('g.vm')].map((g) => g.textContent),
    })),
    verdicts: [...document.querySelectorAll('li.verdict')].map((li) => li.textContent),
    timelineBars: document.querySelectorAll('svg.timeline rect.bar').length,
    diverge: [...document.querySelectorAll('g.pkt.diverge')].map((g) => Number(g.dataset.no)),
    text: document.body.innerText,
    background: getComputedStyle(document.body).backgroundColor,
  };
})()`;

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe.skipIf(!chromium)('HTML reports in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium(chromium!, { timeoutMs: 30_000 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  }, 20_000);

  it.each(CASES)(
    '$name: loads with no console message, exception or request, and shows its ladders and verdicts',
    async (c) => {
      const out = join(dir, `${c.name.replace(/\W+/g, '-')}.html`);
      const io = memoryIo();
      expect(await run([...c.args, '--html', out], io)).toBeLessThanOrEqual(1);
      const url = pathToFileURL(out).href;
      const doms: Dom[] = [];
      for (const dark of [false, true]) {
        const page = await browser.openPage(url, { dark });
        try {
          const dom = await page.evaluate<Dom>(DOM_QUERY);
          expect(page.seen.console).toEqual([]);
          expect(page.seen.exceptions).toEqual([]);
          expect(page.seen.logs).toEqual([]);
          expect(page.seen.requests).toEqual([url]);
          doms.push(dom);
          const png = await page.screenshot({ maxHeight: 3000 });
          writeFileSync(out.replace(/\.html$/, dark ? '-dark.png' : '.png'), png);
          const size = pngSize(png);
          expect(size.width).toBeGreaterThanOrEqual(1280);
          expect(size.height).toBeGreaterThan(300);
        } finally {
          await page.close();
        }
      }
      const [dom, darkDom] = doms;
      // The dark scheme is a different page to the eye, the same page to the DOM.
      expect(darkDom.background).not.toBe(dom.background);
      expect(darkDom.ladders).toEqual(dom.ladders);
      expect(dom.scripts).toBe(0);
      expect(dom.elementsWithHandlers).toBe(0);
      expect(dom.ladders).toHaveLength(c.ladders.length);
      for (const [i, [file, id]] of c.ladders.entries()) {
        const result = analyzeFile(file);
        const flow = result.flows.find((f) => f.id === id)!;
        const { packets } = readFlowPackets(file, flow);
        const numbers = packets.map((p) => p.no);
        // A diff draws GOOD then BAD; a report draws its groups' ladders, most severe first.
        const drawn = c.diverge ? dom.ladders[i] : dom.ladders.find((l) => l.packets[0] === numbers[0])!;
        expect(drawn.packets).toEqual(numbers);
        expect(drawn.arrows).toBe(packets.length);
        expect(drawn.heads).toBe(packets.length);
        expect(drawn.width).toBeGreaterThan(400);
        // One pill per verdict per packet it cites, and each verdict's text in the list above.
        const expectedMarks = flow.verdicts.flatMap((v) => [...new Set(v.packets)].map(() => `${SEV_MARK[v.severity]} ${v.code}`));
        expect([...drawn.marks].sort()).toEqual(expectedMarks.sort());
        for (const v of flow.verdicts) expect(dom.verdicts.some((t) => t.includes(v.code) && t.includes(v.summary))).toBe(true);
      }
      if (c.args[0] === 'analyze') expect(dom.timelineBars).toBeGreaterThan(0);
      expect(dom.diverge).toEqual(c.diverge ?? []);
      if (c.name === 'hostile bytes') {
        expect(dom.text).toContain(`HTTP GET ${HOSTILE.target} HTTP/1.1`);
        expect(dom.text).toContain(HOSTILE.reason);
      }
    },
    60_000,
  );
});
