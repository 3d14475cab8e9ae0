/**
 * A pull subscription on a topic of the Pub/Sub emulator, for in-process tests that
 * handle the messages a function publishes (e.g. dependents' dockerfile-changed).
 */
import {Message, PubSub, Subscription} from '@google-cloud/pubsub';
import {harness} from '../harness/harness';
import {uniqueName} from '../harness/names';

export interface Inbox {
  /** Messages received and not yet taken, as {id, data}. */
  take(): Array<{id: string; data: Buffer; attributes: Record<string, string>}>;
  /** Waits until no message arrived for `quietMs`. */
  settle(quietMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function openInbox(topicName: string): Promise<Inbox> {
  const pubsub = new PubSub({projectId: harness.projectId});
  const topic = pubsub.topic(topicName);
  const [exists] = await topic.exists();
  if (!exists) await topic.create().catch(() => undefined);
  const [subscription]: [Subscription, unknown] =
    await topic.createSubscription(uniqueName('inbox'));
  const received: Message[] = [];
  let lastArrival = Date.now();
  subscription.on('message', (message: Message) => {
    message.ack();
    received.push(message);
    lastArrival = Date.now();
  });
  return {
    take: () =>
      received
        .splice(0)
        .map(m => ({id: m.id, data: m.data, attributes: {...m.attributes}})),
    async settle(quietMs = 400) {
      while (Date.now() - lastArrival < quietMs) {
        await new Promise(resolve => setTimeout(resolve, 50));
      }
    },
    async close() {
      await subscription.close();
      await subscription.delete().catch(() => undefined);
      await pubsub.close();
    },
  };
}
