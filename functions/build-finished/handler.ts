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
  // The notification as it came: arr finds a build's runs by the data's id and status.
  recordedRequest: hint =>
    hint.body ?? {id: hint.buildId, status: hint.attributeStatus},
  act: (hint, run, context) => handleBuildNotification(hint, run, context),
};
