export const EXIT = { OK: 0, FINDINGS: 1, USAGE: 2, INPUT: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An operational failure with the exit code it maps to (unreadable input, bad usage). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode) {
    super(message);
    this.name = 'CliError';
  }
}
