/** Publishing follow-up work: `dockerfile-changed` messages for images to (re)build. */
import type {Context} from './context';
import type {DockerfileChanged} from './messages';
import {withRetry} from './retry';
import type {Run} from './runs';

/** Publish, and record in the run the message id, which is the id of the run it starts. */
export async function publishDockerfileChanged(
  context: Context,
  run: Run,
  message: DockerfileChanged,
): Promise<string> {
  const pubsub = await context.clients.pubsub();
  const topic = pubsub.topic(context.config.dockerfileChangedTopic);
  const messageId = await withRetry(
    () => topic.publishMessage({json: message}),
    context.retry,
  );
  await run.spawned({
    kind: 'dockerfile-changed',
    messageId,
    image: message.image,
  });
  return messageId;
}
