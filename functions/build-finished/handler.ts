/** build-finished: Cloud Build's notifications → build records, manifest, dependents, cleanup. */
import {handleBuildNotification} from '../../shared/build-finished';
import {BuildNotification} from '../../shared/events';
import type {EventHandler} from '../../shared/handle-event';
import {decodeMessage} from '../../shared/pubsub-event';

export const buildFinishedHandler: EventHandler<BuildNotification> = {
  kind: 'build-finished',
  decode: event => decodeMessage(event, BuildNotification),
  act: (build, run, context) => handleBuildNotification(build, run, context),
};
