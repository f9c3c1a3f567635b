// Types for scenario.mjs, so TypeScript tests can import it.

export interface ScenarioExpectation {
  /** What the capture shows and what tcpwhy should say about it. */
  description: string;
  [detail: string]: unknown;
}

export interface ScenarioResult {
  /** The capture the scenario wrote. */
  file: string;
  expect: ScenarioExpectation;
}

export interface ScenarioOptions {
  /** Directory the capture is written into (created if missing). */
  dir: string;
  /** Server (or target) port; scenarios pick one when omitted. */
  port?: number;
  /** Capture snap length, for scenarios that honour it. */
  snaplen?: number;
  [option: string]: unknown;
}

export const SCENARIO_DIR: string;
export function listScenarios(): string[];
export function loadScenario(name: string): Promise<(options: ScenarioOptions) => Promise<ScenarioResult>>;
export function runScenario(name: string, options: ScenarioOptions): Promise<ScenarioResult>;
export function captureFile(dir: string, name: string): string;
