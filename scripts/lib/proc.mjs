// Child processes with deadlines. Everything here signals only the PIDs it spawned itself.
import { spawn } from 'node:child_process';

const DEFAULT_RUN_TIMEOUT_MS = 10_000;
const DEFAULT_READY_TIMEOUT_MS = 5_000;
const DEFAULT_STOP_TIMEOUT_MS = 3_000;

/**
 * Runs a command to completion, killing it (SIGKILL, by PID) after `timeoutMs`.
 * Rejects when it fails to start, times out, or (with `check`, the default) exits non-zero.
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
 */
export function runCommand(cmd, args, { timeoutMs = DEFAULT_RUN_TIMEOUT_MS, check = true, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      killPid(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout, stderr };
      if (timedOut) reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${timeoutMs} ms\n${stderr}`));
      else if (check && code !== 0) reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}\n${stderr}`));
      else resolve(result);
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/**
 * Starts a long-running process. With `readyPattern`, resolves once that pattern appears on
 * stdout or stderr (rejecting after `readyTimeoutMs`, with the process killed); otherwise resolves
 * once it has spawned. `maxLifetimeMs` is a last-resort deadline after which it gets SIGKILL.
 */
export function startProcess(cmd, args, {
  readyPattern,
  readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS,
  maxLifetimeMs = 60_000,
} = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const handle = new ProcessHandle(cmd, args, child, maxLifetimeMs);
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(readyTimer);
      if (err) {
        handle.stop({ signal: 'SIGKILL' }).finally(() => reject(err));
      } else {
        resolve(handle);
      }
    };
    const readyTimer = setTimeout(
      () => settle(new Error(`${cmd}: not ready after ${readyTimeoutMs} ms\n${handle.stderr}`)),
      readyTimeoutMs,
    );
    child.once('error', (err) => settle(new Error(`${cmd} ${args.join(' ')}: ${err.message}`)));
    handle.exited.then(({ code, signal }) =>
      settle(new Error(`${cmd} exited early (${code ?? signal})\n${handle.stderr}`)),
    );
    if (!readyPattern) {
      child.once('spawn', () => settle());
      return;
    }
    const check = () => {
      if (readyPattern.test(handle.stdout) || readyPattern.test(handle.stderr)) settle();
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
  });
}

class ProcessHandle {
  constructor(cmd, args, child, maxLifetimeMs) {
    this.cmd = cmd;
    this.args = args;
    this.child = child;
    this.pid = child.pid;
    this.stdout = '';
    this.stderr = '';
    this.hasExited = false;
    child.stdout.on('data', (chunk) => (this.stdout += chunk));
    child.stderr.on('data', (chunk) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.hasExited = true;
        clearTimeout(this.lifetimeTimer);
        resolve({ code, signal });
      });
    });
    this.lifetimeTimer = setTimeout(() => killPid(this.pid, 'SIGKILL'), maxLifetimeMs);
    this.lifetimeTimer.unref();
  }

  /** Sends `signal` to this process's PID, waits for exit, escalates to SIGKILL after `timeoutMs`. */
  async stop({ signal = 'SIGTERM', timeoutMs = DEFAULT_STOP_TIMEOUT_MS } = {}) {
    if (this.hasExited) return this.exited;
    killPid(this.pid, signal);
    const timer = setTimeout(() => killPid(this.pid, 'SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once `pattern` appears on stdout (or rejects after `timeoutMs`). */
  waitForStdout(pattern, timeoutMs = DEFAULT_READY_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.stdout);
        if (!match) return false;
        cleanup();
        resolve(match);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.cmd}: ${pattern} not seen on stdout after ${timeoutMs} ms\n${this.stderr}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout.off('data', check);
      };
      if (!check()) this.child.stdout.on('data', check);
    });
  }
}

function killPid(pid, signal) {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
