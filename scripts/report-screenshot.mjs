#!/usr/bin/env node
// Makes the README's picture of the HTML report: `tcpwhy analyze SAMPLE --html` loaded in headless
// Chromium (light scheme, 1280 px wide, the top MAX_HEIGHT px). Build first (npm run build).
//   node scripts/report-screenshot.mjs [samples/listen-overflow.pcap] [docs/report.png]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findChromium, launchChromium } from './lib/chromium.mjs';

const MAX_HEIGHT = 1700;
const repo = fileURLToPath(new URL('..', import.meta.url));
const [sample = 'samples/listen-overflow.pcap', output = 'docs/report.png'] = process.argv.slice(2);

const chromium = findChromium();
if (!chromium) {
  console.error('report-screenshot: no chromium on the PATH (apt-get install chromium, or set CHROMIUM)');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-screenshot-'));
try {
  const page = join(dir, 'report.html');
  // Run from the repository so that the page names the sample as the README does.
  const made = spawnSync(process.execPath, ['bin/tcpwhy.js', 'analyze', sample, '--html', page], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  if (made.status === null || made.status > 1) throw new Error(`tcpwhy analyze ${sample} --html: exit ${made.status ?? made.signal}\n${made.stderr}`);
  const browser = await launchChromium(chromium);
  try {
    const tab = await browser.openPage(pathToFileURL(page).href, { width: 1280, height: 900 });
    const { console: logged, exceptions, logs, requests } = tab.seen;
    if (logged.length || exceptions.length || logs.length || requests.length !== 1) throw new Error(`the page was not quiet: ${JSON.stringify(tab.seen)}`);
    const png = await tab.screenshot({ maxHeight: MAX_HEIGHT });
    writeFileSync(resolve(repo, output), png);
    console.log(`${output}: ${png.length} bytes, ${png.readUInt32BE(16)}x${png.readUInt32BE(20)} px, the report of ${sample}`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
