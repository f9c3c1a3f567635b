import type { CliIo } from '../../src/cli/io.js';

/** A CliIo that keeps what the command writes, for asserting on output and exit codes. */
export function memoryIo(isTTY = false, env: Record<string, string> = {}): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTTY,
    columns: 160,
    env,
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}
