// Helpers for scenarios whose capture must start after the handshake: a python http.server on
// loopback serving files from a temporary directory, and the cut that drops a capture's first packets.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { readCapture } from './capture.mjs';
import { runCommand, startProcess } from './proc.mjs';

/** Starts `python3 -m http.server PORT` in `dir` with the files `files` ({ name: bytes }) in it. */
export async function startFileServer(dir, port, files, protocol = 'HTTP/1.0') {
  for (const [name, size] of Object.entries(files)) writeFileSync(path.join(dir, name), Buffer.alloc(size, 0x61));
  return startProcess('python3', ['-u', '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir, '--protocol', protocol], {
    readyPattern: /Serving HTTP/,
    maxLifetimeMs: 30_000,
  });
}

/**
 * The number (from 1) of the `nth` packet from `port` that carries payload, read from `tcpdump -r`.
 * Throws when the capture holds fewer.
 */
export async function nthDataPacketFrom(file, port, nth) {
  const lines = await readCapture(file, ['-q']);
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = /^\S+ IP \S+\.(\d+) > \S+: tcp (\d+)/.exec(lines[i]);
    if (m && Number(m[1]) === port && Number(m[2]) > 0 && ++seen === nth) return i + 1;
  }
  throw new Error(`${file}: fewer than ${nth} data packets from port ${port}`);
}

/** Rewrites `file` without its packets before number `first` (editcap), as a capture begun there. */
export async function dropPacketsBefore(file, first) {
  const cut = `${file}.cut`;
  const total = (await readCapture(file, ['-q'])).length;
  await runCommand('editcap', ['-F', 'pcap', '-r', file, cut, `${first}-${total}`]);
  await runCommand('mv', [cut, file]);
}
