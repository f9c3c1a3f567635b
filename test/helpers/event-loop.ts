import { setImmediate } from 'node:timers/promises';

/**
 * Lets the test worker's event loop run. Analyses are synchronous, and awaiting them one after
 * another never leaves the microtask queue: a worker held that way for a minute misses the runner's
 * replies (vitest's 60 s), and vitest fails the run though every test passed. Long loops of
 * in-process analyses call this between them.
 */
export function backToEventLoop(): Promise<void> {
  return setImmediate();
}
