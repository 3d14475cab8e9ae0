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
  /** Waits until every id in `ids` has arrived (taken or not), or fails after `timeoutMs`. */
  waitFor(ids: Iterable<string>, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function openInbox(topicName: string): Promise<Inbox> {
  const pubsub = new PubSub({
    projectId: harness.projectId,
    clientOptions: {universeDomain: 'googleapis.com'},
  });
  const topic = pubsub.topic(topicName);
  const [exists] = await topic.exists();
  if (!exists) await topic.create().catch(() => undefined);
  const [subscription]: [Subscription, unknown] =
    await topic.createSubscription(uniqueName('inbox'));
  const received: Message[] = [];
  const arrived = new Set<string>();
  subscription.on('message', (message: Message) => {
    message.ack();
    if (arrived.has(message.id)) return;
    arrived.add(message.id);
    received.push(message);
  });
  return {
    take: () =>
      received
        .splice(0)
        .map(m => ({id: m.id, data: m.data, attributes: {...m.attributes}})),
    async waitFor(ids, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (const id of ids) {
        while (!arrived.has(id)) {
          if (Date.now() > deadline)
            throw new Error(`message ${id} never arrived`);
          await new Promise(resolve => setTimeout(resolve, 20));
        }
      }
    },
    async close() {
      await subscription.close();
      await subscription.delete().catch(() => undefined);
      await pubsub.close();
    },
  };
}
