/**
 * In-process retries for transient faults, with full-jitter exponential backoff.
 * After the last attempt the error propagates, so the handler throws and Pub/Sub redelivers.
 *
 * Which Google calls are retried, and where: exactly one layer per call.
 *
 * - google-gax retries a method by itself only where its generated client config lists
 *   retry codes for it. For the clients used here that is Cloud Build's GetBuild and
 *   ListBuilds (on UNAVAILABLE and DEADLINE_EXCEEDED, for up to 600 s, then a
 *   DEADLINE_EXCEEDED that hides the status it retried). Artifact Registry's config lists
 *   every method `non_idempotent` with no retry codes, reads included, so gax retries none
 *   of them; polls of a long-running operation inherit the starting call's settings.
 * - `callGoogleApi` is the one layer for every Artifact Registry and Cloud Build call, and
 *   hands each attempt `options` that switch gax's own retry off (`retry: null`), so it is
 *   never 4 × gax's. It spans the whole call (the RPC, the wait for its long-running
 *   operation, reading ALREADY_EXISTS / NOT_FOUND as answers), retries this project's
 *   transient set (also INTERNAL, UNKNOWN, ABORTED, RESOURCE_EXHAUSTED, network errors),
 *   and gives up within seconds, handing a lasting fault back to Pub/Sub's redelivery
 *   rather than holding a function instance for minutes. The price: a paged listing that
 *   fails on a later page starts again from the first.
 * - A call is repeated only if repeating it is safe (`Repeat`): reads; and creates and
 *   deletes whose repeat answers ALREADY_EXISTS / NOT_FOUND, which their callers take as
 *   success. CreateBuild is not: a repeat starts a second build. It is sent once, and a
 *   transient failure comes back as OutcomeUnknownError: the caller looks before it acts again.
 * - Firestore and Pub/Sub are not covered here: their clients retry by themselves, and the
 *   few `withRetry` around a Firestore transaction, a run update or a publish add attempts on
 *   top. A repeat there is harmless (a transaction reads again; a duplicate message is
 *   deduplicated by the runs and claims), so they are left as they are.
 */
import {setTimeout} from 'node:timers/promises';
import type {CallOptions} from 'google-gax';
import {
  classifyError,
  describeError,
  explainPermanentFailure,
  isTransient,
  OutcomeUnknownError,
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

/** Runs `operation` (given its attempt number, from 1) until it succeeds or fails for good. */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error)) throw error;
      const ceiling = Math.min(
        policy.maxDelayMs,
        policy.baseDelayMs * 2 ** (attempt - 1),
      );
      const delayMs = Math.round(Math.random() * ceiling);
      onRetry?.(error, attempt, delayMs);
      await setTimeout(delayMs);
    }
  }
}

/**
 * Whether a call may be sent again after a transient failure. Any transient failure may
 * come after the service acted (its answer lost on the way back), so that is the question.
 *
 * - `read`: changes nothing.
 * - `converges`: a repeat leaves the same state, answering ALREADY_EXISTS or NOT_FOUND
 *   where the first attempt acted; the caller takes those as success (CreateRepository,
 *   DeleteRepository, DeleteVersion, DeleteTag, UpdateRepository with a full label set).
 * - `once`: a repeat acts again (CreateBuild: a second 2–4 hour build). Never retried here.
 */
export type Repeat = 'read' | 'converges' | 'once';

export interface GoogleCall {
  /** The IAM permission the call needs, named when it is refused. */
  permission: string;
  repeat: Repeat;
}

/**
 * Options for a Google client method: google-gax's own retry off, so that the attempts
 * are this module's alone. Pass them to every Artifact Registry and Cloud Build call.
 */
export const CLIENT_RETRY_OFF: Readonly<CallOptions> = Object.freeze({
  retry: null,
});

export interface Attempt {
  /** 1 for the first; above 1, an earlier attempt failed transiently and may have acted. */
  number: number;
  /** Pass to the client method (google-gax's own retry off). */
  options: CallOptions;
}

/**
 * One call to a Google API: retried in process on transient faults if repeating it is
 * safe, sent once if it is not (a transient failure then comes back as an
 * OutcomeUnknownError); a permanent failure becomes a PermanentError naming the
 * permission the call needed, so the run tells the operator what to grant.
 */
export async function callGoogleApi<T>(
  call: GoogleCall,
  operation: (attempt: Attempt) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<T> {
  const attempts = call.repeat === 'once' ? 1 : policy.attempts;
  try {
    return await withRetry(
      number => operation({number, options: {...CLIENT_RETRY_OFF}}),
      {...policy, attempts},
    );
  } catch (error) {
    const kind = classifyError(error);
    if (kind === 'permanent' && !(error instanceof PermanentError)) {
      throw new PermanentError(
        explainPermanentFailure(error, call.permission),
        {
          cause: error,
        },
      );
    }
    if (kind === 'transient' && call.repeat === 'once') {
      throw new OutcomeUnknownError(describeError(error), {cause: error});
    }
    throw error;
  }
}
