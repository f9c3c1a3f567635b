// Number formatting shared by verdict summaries: durations from integer microseconds.

export function fmtDuration(micros: number): string {
  const a = Math.abs(micros);
  if (a < 1000) return `${(micros / 1000).toFixed(micros === 0 ? 0 : 2).replace(/\.?0+$/, '') || '0'} ms`;
  // Each bound is where the figure would round up to the next unit's first value ("1000 ms").
  if (a < 9_950) return `${(micros / 1000).toFixed(1)} ms`;
  if (a < 999_500) return `${Math.round(micros / 1000)} ms`;
  if (a < 9_995_000) return `${(micros / 1e6).toFixed(2)} s`;
  if (a < 599_950_000) return `${(micros / 1e6).toFixed(1)} s`;
  if (a < 172_800_000_000) return `${Math.round(micros / 1e6)} s`;
  return `${(micros / 86_400_000_000).toFixed(1)} days`;
}

export function ms(micros: number): number {
  return Math.round(micros) / 1000;
}

export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}

/** 100,000: one formatter, made once (toLocaleString builds one per call, about 14 us each). */
const GROUPED = new Intl.NumberFormat('en-US');
export const grouped = (n: number): string => GROUPED.format(n);

/** "1 byte", "100,000 bytes". */
export const bytesText = (n: number): string => `${grouped(n)} ${n === 1 ? 'byte' : 'bytes'}`;
