// Runs the system nginx as a loopback reverse proxy with its own prefix, config and logs in a
// temporary directory, so nothing under /etc/nginx or /var/log/nginx is read or written.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcess } from '../lib/proc.mjs';
import { LOOPBACK, waitForPort } from './net-helpers.mjs';

export const NGINX_BIN = '/usr/sbin/nginx';
const READY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 3_000;
const MAX_LIFETIME_MS = 60_000;

/**
 * nginx.conf for one `server` on 127.0.0.1:`port` whose `location /` proxies to
 * 127.0.0.1:`backendPort` with the extra `proxyDirectives`, and the `server` block the extra
 * `serverDirectives` (lines without the trailing `;`) and `locations` (whole location blocks, before
 * `location /`). Every path nginx may write (pid, logs, temp dirs) is under `prefix`.
 */
export function renderNginxConfig({ prefix, port, backendPort, proxyDirectives = [], serverDirectives = [], locations = [] }) {
  const tmp = path.join(prefix, 'tmp');
  const lines = [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    // Workers would otherwise switch to "nobody" and lose access to the private prefix.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `error_log ${path.join(prefix, 'error.log')} info;`,
    `pid ${path.join(prefix, 'nginx.pid')};`,
    'events { worker_connections 64; }',
    'http {',
    `  access_log ${path.join(prefix, 'access.log')};`,
    `  client_body_temp_path ${path.join(tmp, 'client_body')};`,
    `  proxy_temp_path ${path.join(tmp, 'proxy')};`,
    `  fastcgi_temp_path ${path.join(tmp, 'fastcgi')};`,
    `  uwsgi_temp_path ${path.join(tmp, 'uwsgi')};`,
    `  scgi_temp_path ${path.join(tmp, 'scgi')};`,
    '  server {',
    `    listen ${LOOPBACK}:${port};`,
    '    server_name localhost;',
    ...serverDirectives.map((directive) => `    ${directive};`),
    ...locations.map((block) => `    ${block}`),
    '    location / {',
    `      proxy_pass http://${LOOPBACK}:${backendPort};`,
    ...proxyDirectives.map((directive) => `      ${directive};`),
    '    }',
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}

/**
 * Starts nginx (master + one worker) in the foreground and resolves once it accepts connections
 * on `port`. `stop()` sends SIGTERM to the master by PID, waits for it, then ends any worker
 * that outlived it (by PID), reads the logs and removes the prefix.
 * @returns {Promise<{ port: number, prefix: string, config: string, pid: number,
 *   stop: () => Promise<{ errorLog: string, accessLog: string }> }>}
 */
export async function startNginx({ port, backendPort, proxyDirectives, serverDirectives, locations }) {
  const prefix = await mkdtemp(path.join(os.tmpdir(), 'tcpwhy-nginx-'));
  await mkdir(path.join(prefix, 'tmp'));
  const configFile = path.join(prefix, 'nginx.conf');
  const config = renderNginxConfig({ prefix, port, backendPort, proxyDirectives, serverDirectives, locations });
  await writeFile(configFile, config);
  let master;
  try {
    // -e: the error log nginx uses before it has read the config (default /var/log/nginx/error.log).
    master = await startProcess(
      NGINX_BIN,
      ['-p', prefix + path.sep, '-c', configFile, '-e', path.join(prefix, 'error.log')],
      { maxLifetimeMs: MAX_LIFETIME_MS },
    );
    await waitForPort(port, { timeoutMs: READY_TIMEOUT_MS });
  } catch (err) {
    if (master) await master.stop({ signal: 'SIGTERM', timeoutMs: STOP_TIMEOUT_MS });
    const errorLog = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '');
    await rm(prefix, { recursive: true, force: true });
    throw new Error(`nginx did not start on ${LOOPBACK}:${port}: ${err.message}\n${errorLog}${master?.stderr ?? ''}`);
  }
  const workerPids = childPids(master.pid);
  return {
    port,
    prefix,
    config,
    pid: master.pid,
    stop: async () => {
      // SIGTERM = nginx's fast shutdown: the master stops its workers and waits for them.
      await master.stop({ signal: 'SIGTERM', timeoutMs: STOP_TIMEOUT_MS });
      for (const pid of workerPids) killIfAlive(pid);
      const errorLog = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '');
      const accessLog = await readFile(path.join(prefix, 'access.log'), 'utf8').catch(() => '');
      await rm(prefix, { recursive: true, force: true });
      return { errorLog, accessLog };
    },
  };
}

function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killIfAlive(pid) {
  // Normally the worker is gone with its master; check the command line so a reused PID is left alone.
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!cmdline.startsWith('nginx: worker process')) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Exited meanwhile.
  }
}
