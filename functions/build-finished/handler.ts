/** build-finished: a Cloud Build notification names a build → ask Cloud Build → build record, manifest, dependents, cleanup. */
import {handleBuildNotification} from '../../shared/build-finished';
import {
  type BuildNotificationHint,
  decodeBuildNotification,
} from '../../shared/build-notification';
import type {DeliveryHandler} from '../../shared/handle-delivery';

export const buildFinishedHandler: DeliveryHandler<BuildNotificationHint> = {
  kind: 'build-finished',
  decode: decodeBuildNotification,
  act: (hint, run, context) => handleBuildNotification(hint, run, context),
};
