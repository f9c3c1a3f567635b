// Headless Chromium driven over the DevTools protocol: load a page, collect what it logged and
// requested, query its DOM, take a screenshot. Used by the HTML report's browser test and by
// scripts/report-screenshot.mjs. Each browser gets a fresh profile under os.tmpdir() and a debugging
// port the OS picks; it is ended by its own process group, never by name.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The Chromium binary to run ($CHROMIUM, else the first of chromium, chromium-browser, google-chrome on the PATH), or null. */
export function findChromium() {
  if (process.env.CHROMIUM) return existsSync(process.env.CHROMIUM) ? process.env.CHROMIUM : null;
  for (const name of CANDIDATES) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

/** A DevTools protocol connection: numbered commands, events by method (with their session id). */
class Cdp {
  constructor(socket, timeoutMs) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result);
      } else for (const fn of this.listeners) fn(msg.method, msg.params, msg.sessionId);
    });
    socket.on('close', () => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${p.method}: the browser closed the connection`));
      }
      this.pending.clear();
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
      this.socket.send(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }));
    });
  }

  /** Resolves with the params of the first `method` event of `sessionId` (rejects after the timeout). */
  waitFor(method, sessionId) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(fn);
        reject(new Error(`${method}: not seen in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const fn = (m, params, sid) => {
        if (m !== method || sid !== sessionId) return;
        clearTimeout(timer);
        this.listeners.delete(fn);
        resolve(params);
      };
      this.listeners.add(fn);
    });
  }
}

/**
 * Starts headless Chromium and connects to it. `timeoutMs` bounds the start and each command.
 * @returns {Promise<{ pid: number, openPage: Function, close: () => Promise<void> }>}
 */
export async function launchChromium(binary, { timeoutMs = 20_000 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'tcpwhy-chromium-'));
  const args = [
    '--headless=new',
    '--remote-debugging-port=0',
    `--user-data-dir=${profile}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-gpu',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--mute-audio',
    // The sandbox needs user namespaces, which a root or container run does not have.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    'about:blank',
  ];
  // Its own process group, so that its renderers and helpers end with it.
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let exited = false;
  child.once('exit', () => (exited = true));
  const killGroup = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const cleanUp = () => {
    killGroup();
    rmSync(profile, { recursive: true, force: true });
  };
  let endpoint;
  try {
    endpoint = await new Promise((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`${binary}: no DevTools endpoint within ${timeoutMs} ms\n${stderr.slice(-2000)}`)), timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${binary}: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${binary} exited (${code ?? signal}) before listening\n${stderr.slice(-2000)}`));
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
  } catch (err) {
    cleanUp();
    throw err;
  }
  child.stderr.resume();
  let socket;
  try {
    socket = await new Promise((resolve, reject) => {
      const s = new WebSocket(endpoint, { perMessageDeflate: false });
      const timer = setTimeout(() => reject(new Error(`${endpoint}: no connection within ${timeoutMs} ms`)), timeoutMs);
      s.once('open', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    cleanUp();
    throw err;
  }
  const cdp = new Cdp(socket, timeoutMs);

  /**
   * Opens `url` in a new tab of `width` x `height` CSS pixels, dark or light, and waits for its load
   * event. Everything the page logs, throws or requests from then on is collected.
   */
  async function openPage(url, { width = 1280, height = 900, dark = false } = {}) {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const seen = { console: [], exceptions: [], logs: [], requests: [] };
    const listener = (method, params, sid) => {
      if (sid !== sessionId) return;
      if (method === 'Runtime.consoleAPICalled') seen.console.push({ type: params.type, text: params.args.map((a) => a.value ?? a.description ?? '').join(' ') });
      else if (method === 'Runtime.exceptionThrown') seen.exceptions.push(params.exceptionDetails.exception?.description ?? params.exceptionDetails.text);
      else if (method === 'Log.entryAdded') seen.logs.push({ level: params.entry.level, text: params.entry.text, source: params.entry.source });
      else if (method === 'Network.requestWillBeSent') seen.requests.push(params.request.url);
    };
    cdp.listeners.add(listener);
    const send = (method, params) => cdp.send(method, params, sessionId);
    await Promise.all([send('Runtime.enable'), send('Log.enable'), send('Network.enable'), send('Page.enable')]);
    await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    await send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: dark ? 'dark' : 'light' }] });
    const loaded = cdp.waitFor('Page.loadEventFired', sessionId);
    const nav = await send('Page.navigate', { url });
    if (nav.errorText) throw new Error(`${url}: ${nav.errorText}`);
    await loaded;
    return {
      seen,
      /** The value of a JavaScript expression evaluated in the page (returned by value). */
      async evaluate(expression) {
        const r = await send('Runtime.evaluate', { expression, returnByValue: true });
        if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value;
      },
      /** A PNG of the page from the top, at most `maxHeight` CSS pixels tall. */
      async screenshot({ maxHeight = 4000 } = {}) {
        const metrics = await send('Page.getLayoutMetrics');
        const size = metrics.cssContentSize ?? metrics.contentSize;
        const clip = { x: 0, y: 0, width: Math.ceil(Math.max(width, size.width)), height: Math.ceil(Math.min(maxHeight, size.height)), scale: 1 };
        const shot = await send('Page.captureScreenshot', { format: 'png', clip, captureBeyondViewport: true });
        return Buffer.from(shot.data, 'base64');
      },
      async close() {
        cdp.listeners.delete(listener);
        await cdp.send('Target.closeTarget', { targetId }).catch(() => {});
      },
    };
  }

  async function close() {
    await cdp.send('Browser.close').catch(() => {});
    socket.terminate();
    await new Promise((resolve) => {
      if (exited) return resolve();
      const timer = setTimeout(resolve, 2000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    cleanUp();
  }

  return { pid: child.pid, openPage, close };
}
