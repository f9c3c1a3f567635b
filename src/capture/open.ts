// Reads a capture from a file or standard input into a CaptureParser. Both are read with readSync
// into one reused buffer: no whole-file reads, and no new Buffer per chunk as createReadStream or
// process.stdin would allocate (see the perf baseline: 64 KiB streams cost 3.4x the walk).

import * as fs from 'node:fs';
import { isatty } from 'node:tty';
import { OPEN_ERROR } from './codes.js';
import { CaptureParser } from './parser.js';
import { CaptureOpenError, type CaptureInfo, type PacketCallback } from './record.js';

/**
 * 1 MiB: past that the read syscalls stop mattering, and a larger chunk no longer stays in the
 * processor's cache between the read that fills it and the parser that walks it.
 */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;

/** Path that means standard input, as in `tcpdump -U -w - | tcpwhy analyze -`. */
export const STDIN_PATH = '-';
const STDIN_FD = 0;

export interface ReadCaptureOptions {
  /** Bytes per read (default DEFAULT_CHUNK_SIZE). */
  chunkSize?: number;
  /** After each chunk of a file: bytes read, the file's size (0 when not a regular file), records read. */
  onProgress?: (bytesRead: number, totalBytes: number, packets: number) => void;
}

/**
 * Reads a whole capture from a regular file, a FIFO, a device or, for '-', standard input, calling
 * onPacket with one reused record per packet. Throws CaptureOpenError when nothing is readable;
 * every other problem is a diagnostic in the returned info.
 */
export function readCaptureFileSync(path: string, onPacket: PacketCallback, opts: ReadCaptureOptions = {}): CaptureInfo {
  if (path === STDIN_PATH) {
    if (isatty(STDIN_FD)) {
      throw new CaptureOpenError(
        `${path}: standard input is a terminal, not a capture; pipe one in, e.g. tcpdump -U -w - | tcpwhy analyze -`,
        OPEN_ERROR.CAPTURE_UNREADABLE,
      );
    }
    // Read as a file is, not through process.stdin: that stream hands over a new 64 KiB Buffer per
    // read through an async iterator (8% more time on the 500 k-packet mix), and once made it
    // switches a pipe to non-blocking reads.
    return readOpenCapture(path, STDIN_FD, onPacket, opts);
  }
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw openFailure(path, err);
  }
  try {
    return readOpenCapture(path, fd, onPacket, opts);
  } finally {
    fs.closeSync(fd);
  }
}

/** Pauses a read that found a non-blocking pipe empty. */
const pause = new Int32Array(new SharedArrayBuffer(4));
/** The longest sleep between reads of an empty non-blocking pipe: the most a pause of its writer delays the analysis. */
const MAX_EMPTY_PIPE_SLEEP_MS = 64;

/** Reads the capture from the open descriptor `fd` (not closed here), chunk by chunk into one buffer. */
function readOpenCapture(path: string, fd: number, onPacket: PacketCallback, opts: ReadCaptureOptions): CaptureInfo {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  const stat = fs.fstatSync(fd);
  if (stat.isDirectory()) {
    throw new CaptureOpenError(`${path}: is a directory, not a capture file`, OPEN_ERROR.CAPTURE_UNREADABLE);
  }
  const totalBytes = stat.isFile() ? stat.size : 0;
  let bytesRead = 0;
  const parser = new CaptureParser(path, onPacket);
  const buf = new Uint8Array(chunkSize);
  let emptySleepMs = 1;
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, chunkSize, null);
    } catch (err) {
      // A non-blocking input that is empty for now: wait for data rather than stop. Our end of a
      // pipe is non-blocking when a process sharing that end made it so (a Node parent that
      // touched process.stdin and passed it on). Nothing here can block until the pipe has
      // data, so the reader sleeps, 1 ms after the first empty read and twice as long after each
      // next one up to MAX_EMPTY_PIPE_SLEEP_MS: a writer that pauses costs some 16 wake-ups a
      // second, not a busy loop.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, emptySleepMs);
        emptySleepMs = Math.min(emptySleepMs * 2, MAX_EMPTY_PIPE_SLEEP_MS);
        continue;
      }
      if (parser.info.format === null) throw unreadable(path, err);
      parser.abort(`reading stopped: ${errorText(err)}`);
      break;
    }
    if (n === 0) break;
    emptySleepMs = 1;
    parser.push(n === chunkSize ? buf : buf.subarray(0, n));
    bytesRead += n;
    opts.onProgress?.(bytesRead, totalBytes, parser.info.packets);
    if (parser.info.stoppedEarly) break;
  }
  return parser.end();
}

function openFailure(path: string, err: unknown): CaptureOpenError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new CaptureOpenError(`${path}: no such file`, OPEN_ERROR.CAPTURE_NOT_FOUND);
  }
  return unreadable(path, err);
}

function unreadable(path: string, err: unknown): CaptureOpenError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : errorText(err);
  return new CaptureOpenError(`${path}: cannot read: ${why}`, OPEN_ERROR.CAPTURE_UNREADABLE);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
