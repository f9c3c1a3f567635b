import { spawnSync } from 'node:child_process';

const toolCache = new Map<string, boolean>();

/** True when `cmd args` runs and exits 0 here (tshark, tcpdump, ip...); asked once per command line. */
export function hasTool(cmd: string, args: string[] = ['--version']): boolean {
  const key = `${cmd} ${args.join(' ')}`;
  let ok = toolCache.get(key);
  if (ok === undefined) {
    ok = spawnSync(cmd, args, { stdio: 'ignore', timeout: 5_000 }).status === 0;
    toolCache.set(key, ok);
  }
  return ok;
}
