// Checks that a scenario's capture holds every connection from SYN to its end, with no hole in
// either direction's byte stream. A capture helper that stops tcpdump too early, or a kernel
// ring buffer overflow ("packets dropped by kernel"), otherwise leaves a sample that silently
// lacks its teardown.
import { readCapture } from '../lib/capture.mjs';

const SEGMENT = /IP (\S+) > (\S+): Flags \[([^\]]+)\](?:, seq (\d+)(?::(\d+))?)?/;

/**
 * Reads `tcpdump -nn -r FILE` (relative sequence numbers) and returns a list of problems, empty
 * when every connection has SYN and SYN-ACK, contiguous data in both directions and ends with a
 * FIN from each side or an RST.
 */
export async function findCaptureProblems(file) {
  const lines = await readCapture(file);
  const directions = new Map(); // "src > dst" -> { syn, nextSeq, fin, rst }
  const problems = [];
  for (const line of lines) {
    const match = SEGMENT.exec(line);
    if (!match) continue;
    const [, src, dst, flags, seqText, endText] = match;
    const key = `${src} > ${dst}`;
    let dir = directions.get(key);
    if (!dir) directions.set(key, (dir = { src, dst, syn: false, nextSeq: 1, fin: false, rst: false }));
    if (flags.includes('S')) {
      dir.syn = true;
      continue;
    }
    if (flags.includes('R')) dir.rst = true;
    if (seqText !== undefined && endText !== undefined) {
      const seq = Number(seqText);
      if (seq > dir.nextSeq) problems.push(`${key}: bytes ${dir.nextSeq}-${seq - 1} missing`);
      dir.nextSeq = Math.max(dir.nextSeq, Number(endText));
    }
    if (flags.includes('F')) dir.fin = true;
  }
  if (directions.size === 0) problems.push('no TCP packets captured');
  for (const [key, dir] of directions) {
    const reverse = directions.get(`${dir.dst} > ${dir.src}`);
    if (!dir.syn) problems.push(`${key}: no SYN`);
    if (!reverse) problems.push(`${key}: no packets in the other direction`);
    const reset = dir.rst || reverse?.rst;
    if (!dir.fin && !reset) problems.push(`${key}: neither FIN nor RST`);
  }
  return problems;
}

/**
 * Runs `runOnce()` (a scenario body resolving to { file, ... }) up to `attempts` times, until its
 * capture has no problems; throws with the last problems otherwise.
 */
export async function withCompleteCapture(name, runOnce, { attempts = 3 } = {}) {
  let problems = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const result = await runOnce();
    problems = await findCaptureProblems(result.file);
    if (problems.length === 0) return result;
  }
  throw new Error(`${name}: capture incomplete after ${attempts} attempts: ${problems.join('; ')}`);
}
