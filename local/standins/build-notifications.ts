/**
 * Cloud Build's status feed: on every status change Cloud Build publishes a message to the
 * `cloud-builds` topic with attributes `buildId` and `status` and the Build resource as JSON data.
 * The sink is injectable; `PubSubNotificationSink` publishes to the Pub/Sub emulator.
 * `NotificationFaults` makes delivery misbehave the ways Pub/Sub can: duplicates, and a
 * notification delivered after the build's terminal one (out of order).
 */
import {PubSub, type Topic} from '@google-cloud/pubsub';
import {isTerminalBuildStatus} from '../../shared/messages';
import type {BuildStatus} from './build-status';

export const DEFAULT_NOTIFICATION_TOPIC = 'cloud-builds';

export interface BuildNotificationAttributes {
  buildId: string;
  status: BuildStatus;
}

/** Where the Cloud Build stand-in sends its status notifications. */
export interface BuildNotificationSink {
  publish(attributes: BuildNotificationAttributes, data: Buffer): Promise<void>;
  /** Releases connections; optional. */
  close?(): Promise<void>;
}

export interface PubSubNotificationSinkOptions {
  /** Topic id; default `cloud-builds`. */
  topic?: string;
  /** Defaults to GOOGLE_CLOUD_PROJECT. */
  projectId?: string;
}

/**
 * Publishes to the Pub/Sub emulator named by PUBSUB_EMULATOR_HOST. Refuses to start without it,
 * so a local stand-in never publishes to a real project. As with Cloud Build, the topic must
 * already exist; publishing to a missing topic fails (and the stand-in records the failure).
 */
export class PubSubNotificationSink implements BuildNotificationSink {
  readonly topicName: string;
  private readonly pubsub: PubSub;
  private readonly topic: Topic;

  constructor(options: PubSubNotificationSinkOptions = {}) {
    if (!process.env.PUBSUB_EMULATOR_HOST) {
      throw new Error(
        'PUBSUB_EMULATOR_HOST is not set: the Cloud Build stand-in publishes its notifications ' +
          'only to the Pub/Sub emulator. Start it (gcloud beta emulators pubsub start) and set ' +
          'PUBSUB_EMULATOR_HOST, or pass a notificationSink.',
      );
    }
    const projectId = options.projectId ?? process.env.GOOGLE_CLOUD_PROJECT;
    if (!projectId) {
      throw new Error(
        'GOOGLE_CLOUD_PROJECT is not set: pass projectId to PubSubNotificationSink',
      );
    }
    this.topicName = options.topic ?? DEFAULT_NOTIFICATION_TOPIC;
    // The universe domain, given up front, keeps google-gax from searching for Google
    // credentials (and probing the GCE metadata server) before it talks to the emulator. It goes
    // in clientOptions: a top-level universeDomain would make PubSub leave emulator mode.
    this.pubsub = new PubSub({
      projectId,
      clientOptions: {universeDomain: 'googleapis.com'},
    });
    // One message per batch, so notifications leave in the order the builds produce them.
    this.topic = this.pubsub.topic(this.topicName, {
      batching: {maxMessages: 1},
    });
  }

  async publish(
    attributes: BuildNotificationAttributes,
    data: Buffer,
  ): Promise<void> {
    await this.topic.publishMessage({data, attributes: {...attributes}});
  }

  async close(): Promise<void> {
    await this.pubsub.close();
  }
}

/** A sink that keeps what it receives; for tests that do not need Pub/Sub. */
export class MemoryNotificationSink implements BuildNotificationSink {
  readonly received: {attributes: BuildNotificationAttributes; data: Buffer}[] =
    [];

  async publish(
    attributes: BuildNotificationAttributes,
    data: Buffer,
  ): Promise<void> {
    this.received.push({attributes, data});
  }
}

/** Delivery faults for notifications; they apply to every build until cleared. */
export class NotificationFaults {
  private readonly duplicates = new Map<BuildStatus | 'ALL', number>();
  private readonly held = new Set<BuildStatus>();

  /** Each notification of `status` (or every one, with 'ALL') is delivered `copies` extra times. */
  duplicate(status: BuildStatus | 'ALL', copies = 1): this {
    if (!Number.isInteger(copies) || copies < 1) {
      throw new Error(
        `duplicate(${status}): copies must be a positive integer, got ${copies}`,
      );
    }
    this.duplicates.set(status, copies);
    return this;
  }

  /**
   * Holds back the notification of a non-terminal `status` (e.g. WORKING) and delivers it right
   * after the build's terminal notification: a subscriber then sees WORKING after SUCCESS.
   */
  deliverAfterTerminal(status: BuildStatus): this {
    if (isTerminalBuildStatus(status)) {
      throw new Error(
        `deliverAfterTerminal(${status}): only a non-terminal status can be held`,
      );
    }
    this.held.add(status);
    return this;
  }

  reset(): void {
    this.duplicates.clear();
    this.held.clear();
  }

  /** How many times a notification of `status` is delivered. */
  deliveries(status: BuildStatus): number {
    return 1 + (this.duplicates.get(status) ?? this.duplicates.get('ALL') ?? 0);
  }

  isHeld(status: BuildStatus): boolean {
    return this.held.has(status);
  }
}
