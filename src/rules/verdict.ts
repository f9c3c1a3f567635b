export const SEVERITY = { info: 0, warning: 1, error: 2 } as const;
export type Severity = keyof typeof SEVERITY;

export interface Verdict {
  /** Stable kebab-case code, never renamed once shipped (refused, syn-timeout, ws-fin-after-101, ...). */
  code: string;
  severity: Severity;
  /** One line with numbers: "RST: no listener on 10.0.0.2:8080 (SYN #1 answered by RST #2 in 0.1 ms)". */
  summary: string;
  /** 1-based packet numbers the verdict rests on. */
  packets: number[];
  facts: Record<string, unknown>;
  /** Likely causes and the fix, as an operator would phrase them. */
  hint: string;
}
