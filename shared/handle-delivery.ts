/**
 * The shape every handler shares: decode → dedupe → act → record, and the error policy.
 *
 * - A malformed message or any permanent failure finishes the run as failed, is logged at
 *   ERROR, and returns normally so Pub/Sub does not redeliver it forever.
 * - A transient failure (after the adapters' own retries) is noted in the run and thrown,
 *   so Pub/Sub redelivers; the redelivery resumes the same run.
 */
import type {Context} from './context';
import {classifyError, describeError, PermanentError} from './errors';
import {
  asPubSubCloudEvent,
  MalformedMessageError,
  PubSubCloudEvent,
} from './decode-message';
import {withRetry} from './retry';
import {beginRun, Run, RunKind} from './runs';

export interface DeliveryHandler<Request> {
  kind: RunKind;
  decode(event: PubSubCloudEvent): Request;
  summary?(request: Request): {requestedBy?: string; dryRun?: boolean};
  /** What the run records as its request, where that is not the decoded request itself. */
  recordedRequest?(request: Request): object;
  /** How a malformed message ends the run; teardown refuses rather than fails. */
  malformed?: 'fail' | 'refuse';
  /** Does the work and finishes the run (succeed, fail or refuse). */
  act(
    request: Request,
    run: Run,
    context: Context,
    event: PubSubCloudEvent,
  ): Promise<void>;
}

export async function handleDelivery<Request>(
  delivered: unknown,
  handler: DeliveryHandler<Request>,
  context: Context,
): Promise<void> {
  const event = asPubSubCloudEvent(delivered);
  if (!event) {
    // Nothing to record it under and nothing to dedupe by: acknowledge it, loudly.
    context.log.error(
      'Acknowledged an event with no id and no Pub/Sub message id; nothing was done',
      {kind: handler.kind},
    );
    return;
  }
  const firestore = await context.clients.firestore();
  const begun = await withRetry(
    () =>
      beginRun(
        firestore,
        event.id,
        handler.kind,
        context.log,
        context.retry,
        undefined,
        context.config.runRetentionDays,
      ),
    context.retry,
  );
  if (begun.kind === 'already-finished') {
    context.log.info(
      `Event ${event.id} was already handled (run ${begun.record.status}); nothing to do`,
      {runId: event.id, kind: handler.kind},
    );
    return;
  }
  const run = begun.run;

  let request: Request;
  try {
    request = handler.decode(event);
  } catch (error) {
    if (error instanceof MalformedMessageError) {
      if (handler.malformed === 'refuse') await run.refuse(error.message);
      else await run.fail(error.message);
      return;
    }
    throw error;
  }
  await run.describe({
    ...(handler.summary?.(request) ?? {}),
    request: handler.recordedRequest?.(request) ?? (request as object),
  });

  try {
    await handler.act(request, run, context, event);
    await run.flush();
  } catch (error) {
    if (classifyError(error) === 'transient') {
      await run.info(
        `⟳ Transient failure, Pub/Sub will redeliver: ${describeError(error)}`,
      );
      // Best effort: the redelivery resumes this run whether or not the note landed.
      await run.flush().catch(() => undefined);
      throw error;
    }
    await run.fail(
      error instanceof PermanentError ? error.message : describeError(error),
    );
  }
}
