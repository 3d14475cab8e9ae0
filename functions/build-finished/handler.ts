/** build-finished: Cloud Build's notifications → build records, manifest, dependents, cleanup. */
import {handleBuildNotification} from '../../shared/build-finished';
import {BuildNotification} from '../../shared/messages';
import type {DeliveryHandler} from '../../shared/handle-delivery';
import {decodeMessage} from '../../shared/decode-message';

export const buildFinishedHandler: DeliveryHandler<BuildNotification> = {
  kind: 'build-finished',
  decode: event => decodeMessage(event, BuildNotification),
  act: (build, run, context) => handleBuildNotification(build, run, context),
};
