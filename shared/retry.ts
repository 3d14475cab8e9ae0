/**
 * In-process retries for transient faults, with full-jitter exponential backoff.
 * After the last attempt the error propagates, so the handler throws and Pub/Sub redelivers.
 */
import {
  classifyError,
  explainPermanentFailure,
  isTransient,
  PermanentError,
} from './errors';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
};

export async function withRetry<T>(
  operation: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error)) throw error;
      const ceiling = Math.min(
        policy.maxDelayMs,
        policy.baseDelayMs * 2 ** (attempt - 1),
      );
      const delayMs = Math.round(Math.random() * ceiling);
      onRetry?.(error, attempt, delayMs);
      await sleep(delayMs);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/**
 * One call to a Google API: transient faults retried in process; a permanent failure
 * becomes a PermanentError naming the permission the call needed, so the run tells the
 * operator what to grant.
 */
export async function callGoogleApi<T>(
  permission: string,
  operation: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<T> {
  try {
    return await withRetry(operation, policy);
  } catch (error) {
    if (
      classifyError(error) === 'permanent' &&
      !(error instanceof PermanentError)
    ) {
      throw new PermanentError(explainPermanentFailure(error, permission), {
        cause: error,
      });
    }
    throw error;
  }
}
