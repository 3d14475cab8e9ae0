/** dockerfile-changed: cache hit, adoption, or exactly one build per (image, key). */
import {DockerfileChanged} from '../../shared/events';
import type {EventHandler} from '../../shared/handle-event';
import {handleDockerfileChange} from '../../shared/image-changes';
import {decodeMessage} from '../../shared/pubsub-event';

export const dockerfileChangedHandler: EventHandler<DockerfileChanged> = {
  kind: 'dockerfile-changed',
  decode: event => decodeMessage(event, DockerfileChanged),
  summary: request => ({requestedBy: request.requestedBy}),
  act: (request, run, context) => handleDockerfileChange(request, run, context),
};
