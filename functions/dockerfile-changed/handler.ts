/** dockerfile-changed: cache hit, adoption, or exactly one build per (image, key). */
import {DockerfileChanged} from '../../shared/messages';
import type {DeliveryHandler} from '../../shared/handle-delivery';
import {handleDockerfileChange} from '../../shared/dockerfile-changed';
import {decodeMessage} from '../../shared/decode-message';

export const dockerfileChangedHandler: DeliveryHandler<DockerfileChanged> = {
  kind: 'dockerfile-changed',
  decode: event => decodeMessage(event, DockerfileChanged),
  summary: request => ({requestedBy: request.requestedBy}),
  act: (request, run, context) => handleDockerfileChange(request, run, context),
};
