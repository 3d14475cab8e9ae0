/** setup-requested: ensure both repositories, then bring back images a teardown removed. */
import type {DeliveryHandler} from '../../shared/handle-delivery';
import {SetupRequest} from '../../shared/messages';
import {decodeMessage} from '../../shared/decode-message';
import {reconcileImages} from '../../shared/reconcile';
import {ensureRepositories} from '../../shared/setup';

export const setupRequestedHandler: DeliveryHandler<SetupRequest> = {
  kind: 'setup',
  decode: event => decodeMessage(event, SetupRequest),
  summary: request => ({
    requestedBy: request.requestedBy,
    dryRun: request.dryRun,
  }),
  async act(request, run, context) {
    if (request.dryRun)
      await run.info('Dry run: nothing will be created or changed');
    const checks = await ensureRepositories(request, run, context);
    await reconcileImages(run, context, {
      dryRun: request.dryRun === true,
      requestedBy: request.requestedBy,
    });
    const attention = checks
      .filter(check => check.warnings.length > 0)
      .map(c => c.id);
    await run.succeed(
      request.dryRun
        ? 'Dry run complete'
        : attention.length === 0
          ? 'Both repositories ready'
          : `Repositories ready; needs attention: ${attention.join(', ')}`,
    );
  },
};
