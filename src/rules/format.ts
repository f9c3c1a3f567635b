// Number formatting shared by verdict summaries: durations from integer microseconds.

export function fmtDuration(micros: number): string {
  const a = Math.abs(micros);
  if (a < 1000) return `${(micros / 1000).toFixed(micros === 0 ? 0 : 2).replace(/\.?0+$/, '') || '0'} ms`;
  if (a < 10_000) return `${(micros / 1000).toFixed(1)} ms`;
  if (a < 1_000_000) return `${Math.round(micros / 1000)} ms`;
  if (a < 10_000_000) return `${(micros / 1e6).toFixed(2)} s`;
  if (a < 600_000_000) return `${(micros / 1e6).toFixed(1)} s`;
  if (a < 172_800_000_000) return `${Math.round(micros / 1e6)} s`;
  return `${(micros / 86_400_000_000).toFixed(1)} days`;
}

export function ms(micros: number): number {
  return Math.round(micros) / 1000;
}

export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}
