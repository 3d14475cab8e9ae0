/** teardown-requested: guarded deletion of the ephemeral repository, and nothing else. */
import {TeardownRequest} from '../../shared/messages';
import type {DeliveryHandler} from '../../shared/handle-delivery';
import {decodeMessage} from '../../shared/decode-message';
import {tearDown} from '../../shared/teardown';

export const teardownRequestedHandler: DeliveryHandler<TeardownRequest> = {
  kind: 'teardown',
  malformed: 'refuse',
  decode: event => decodeMessage(event, TeardownRequest),
  summary: request => ({
    requestedBy: request.requestedBy,
    dryRun: request.dryRun === true || request.confirm === undefined,
  }),
  act: (request, run, context) => tearDown(request, run, context),
};
