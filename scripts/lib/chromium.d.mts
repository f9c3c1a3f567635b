// Types for chromium.mjs, so TypeScript tests can import it.

export interface PageEvents {
  console: Array<{ type: string; text: string }>;
  exceptions: string[];
  logs: Array<{ level: string; text: string; source: string }>;
  requests: string[];
}

export interface Page {
  seen: PageEvents;
  evaluate<T = unknown>(expression: string): Promise<T>;
  screenshot(opts?: { maxHeight?: number }): Promise<Buffer>;
  close(): Promise<void>;
}

export interface Browser {
  pid: number;
  openPage(url: string, opts?: { width?: number; height?: number; dark?: boolean }): Promise<Page>;
  close(): Promise<void>;
}

export function findChromium(): string | null;
export function launchChromium(binary: string, opts?: { timeoutMs?: number }): Promise<Browser>;
