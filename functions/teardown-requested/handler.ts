/** teardown-requested: guarded deletion of the ephemeral repository, and nothing else. */
import {TeardownRequest} from '../../shared/events';
import type {EventHandler} from '../../shared/handle-event';
import {decodeMessage} from '../../shared/pubsub-event';
import {tearDown} from '../../shared/teardown';

export const teardownRequestedHandler: EventHandler<TeardownRequest> = {
  kind: 'teardown',
  malformed: 'refuse',
  decode: event => decodeMessage(event, TeardownRequest),
  summary: request => ({
    requestedBy: request.requestedBy,
    dryRun: request.dryRun === true || request.confirm === undefined,
  }),
  act: (request, run, context) => tearDown(request, run, context),
};
