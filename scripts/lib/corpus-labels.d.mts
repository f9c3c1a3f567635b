// Types for corpus-labels.mjs, so TypeScript tests can import it.

export type CorpusName = 'corpus' | 'corpus2';
export type Severity = 'info' | 'warning' | 'error';

export interface CorpusLocation {
  name: CorpusName;
  dir: string;
  variable: string;
  found: boolean;
  /** Why the corpus cannot be used, as a clause for a skip message ('' when found). */
  missing: string;
}

export interface FlowLabel {
  a: string;
  b: string;
  nth?: number;
  must?: string[];
  /** At least one of these codes (two true statements of one fact). */
  mustOneOf?: string[];
  mustNot?: string[];
  maxSeverity?: Severity;
  why: string;
}

export interface CaptureLabel {
  file: string;
  why: string;
  capture?: { must?: string[]; mustNot?: string[] };
  flows: FlowLabel[];
}

export interface LabelFile {
  corpus: CorpusName;
  captures: CaptureLabel[];
}

export type FlowKey = { a: string; b: string; nth: number } | 'capture';

export interface Check {
  corpus: CorpusName;
  file: string;
  flow: FlowKey;
  check: string;
  ok: boolean;
  detail: string;
}

export interface Miss {
  corpus: CorpusName;
  file: string;
  flow: FlowKey;
  check: string;
  why: string;
}

export interface Figures {
  files: number;
  filesRight: number;
  expected: number;
  found: number;
  falseAlarms: number;
}

interface AnalysedVerdict {
  code: string;
  severity: string;
}

export interface Analysed {
  verdicts: AnalysedVerdict[];
  flows: Array<{ client: string; server: string; verdicts: AnalysedVerdict[] }>;
}

export const SEVERITY_RANK: Record<Severity, number>;
export const MISSES_FILE: string;
export const CORPUS_ENV: Record<CorpusName, string>;
export function locateCorpus(name: CorpusName, repoRoot: string, env?: Record<string, string | undefined>): CorpusLocation;
export function readLabelFiles(labelsDir: string): LabelFile[];
export function readKnownMisses(labelsDir: string): Miss[];
export function missKey(m: Miss | Check): string;
export function checkCorpus(labels: LabelFile, analyze: (file: string) => Analysed | Promise<Analysed>): Promise<{ checks: Check[]; figures: Figures }>;
export function summaryLine(corpus: string, figures: Figures): string;
export function missesOf(checks: Check[]): Miss[];
export function compareWithKnown(checks: Check[], known: Miss[], corpora: string[]): { regressions: string[]; fixed: string[] };
