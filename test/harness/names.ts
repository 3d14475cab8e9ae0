/** Unique resource names, so tests sharing one emulator never see each other's topics. */
import {randomBytes} from 'node:crypto';

let counter = 0;

/**
 * A Pub/Sub-valid name (starts with a letter; letters, digits and dashes;
 * at most 255 characters) that no other call in any process returns.
 */
export function uniqueName(prefix = 'test'): string {
  const safe = prefix.replace(/[^A-Za-z0-9-]/g, '-').replace(/^[^A-Za-z]+/, '');
  const suffix = `${++counter}-${randomBytes(4).toString('hex')}`;
  return `${safe || 't'}-${suffix}`.slice(-200);
}

/** A topic name and a subscription name that belong together. */
export function uniqueTopicAndSubscription(prefix = 'test'): {
  topic: string;
  subscription: string;
} {
  const topic = uniqueName(prefix);
  return {topic, subscription: `${topic}-sub`};
}
