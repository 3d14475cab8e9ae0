/** Polling for things that happen asynchronously (deliveries, redeliveries). */
import {setTimeout as sleep} from 'node:timers/promises';

export interface EventuallyOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Said in the error on timeout, e.g. "the message to be redelivered". */
  readonly waitingFor?: string;
}

/**
 * Calls `probe` until it returns a value other than undefined, and returns
 * that value; rejects after the timeout.
 */
export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  options: EventuallyOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${options.waitingFor ?? 'a condition'}`,
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
}
