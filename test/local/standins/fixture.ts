/**
 * Shared setup of the stand-in tests: the stand-ins started once per suite, reset before every
 * test, reached only through the official clients; and a fresh Pub/Sub topic + subscription on
 * the harness's emulator for tests that read the build notifications.
 */
import {ArtifactRegistryClient} from '@google-cloud/artifact-registry';
import {CloudBuildClient, protos} from '@google-cloud/cloudbuild';
import {type Message, PubSub} from '@google-cloud/pubsub';
import {TagBindingsClient} from '@google-cloud/resource-manager';
import {
  MemoryNotificationSink,
  PubSubNotificationSink,
  type RunningStandIns,
  standInClientOptions,
  startStandIns,
} from '../../../local/standins';
import {eventually} from '../../harness/wait';
import {harness} from '../../harness/harness';
import {uniqueTopicAndSubscription} from '../../harness/names';

export const PROJECT = 'arr-test-project';
export const LOCATION = 'us-central1';
export const PARENT = `projects/${PROJECT}/locations/${LOCATION}`;
export const PERSISTENT = `${PARENT}/repositories/arr-coc-registry-persistent`;
export const EPHEMERAL = `${PARENT}/repositories/arr-coc-registry`;
export const REGISTRY_HOST = `${LOCATION}-docker.pkg.dev/${PROJECT}`;

export interface StandInFixture {
  standIns: RunningStandIns;
  artifactRegistry: ArtifactRegistryClient;
  cloudBuild: CloudBuildClient;
  tagBindings: TagBindingsClient;
  /** Where notifications go unless a test subscribes to Pub/Sub. */
  memorySink: MemoryNotificationSink;
}

/**
 * Registers mocha hooks for the enclosing describe() and returns the fixture (filled by `before`).
 */
export function useStandIns(): StandInFixture {
  const fixture = {} as StandInFixture;
  before(async () => {
    fixture.memorySink = new MemoryNotificationSink();
    fixture.standIns = await startStandIns({
      notificationSink: fixture.memorySink,
      buildDurations: {queuedMs: 20, workingMs: 40},
    });
    fixture.artifactRegistry = new ArtifactRegistryClient(
      standInClientOptions(
        fixture.standIns.endpoints.artifactRegistry,
        PROJECT,
      ),
    );
    fixture.cloudBuild = new CloudBuildClient(
      standInClientOptions(fixture.standIns.endpoints.cloudBuild, PROJECT),
    );
    fixture.tagBindings = new TagBindingsClient(
      standInClientOptions(fixture.standIns.endpoints.tagBindings, PROJECT),
    );
  });
  beforeEach(() => {
    fixture.standIns.reset();
    fixture.standIns.cloudBuild.setNotificationSink(fixture.memorySink);
    fixture.memorySink.received.length = 0;
  });
  after(async () => {
    await fixture.artifactRegistry?.close();
    await fixture.cloudBuild?.close();
    await fixture.tagBindings?.close();
    await fixture.standIns?.stop();
  });
  return fixture;
}

export interface ReceivedNotification {
  attributes: Record<string, string>;
  build: Record<string, unknown>;
  publishTime: Date;
}

export interface NotificationFeed {
  topic: string;
  sink: PubSubNotificationSink;
  received: ReceivedNotification[];
  /** Waits until `count` notifications arrived. */
  waitFor(count: number): Promise<ReceivedNotification[]>;
  close(): Promise<void>;
}

/** A fresh topic and pull subscription on the harness's Pub/Sub emulator, and a sink publishing to it. */
export async function notificationFeed(): Promise<NotificationFeed> {
  const pubsub = new PubSub({
    projectId: harness.projectId,
    clientOptions: {universeDomain: 'googleapis.com'},
  });
  const names = uniqueTopicAndSubscription('cloud-builds');
  const [topic] = await pubsub.createTopic(names.topic);
  const [subscription] = await topic.createSubscription(names.subscription);
  const received: ReceivedNotification[] = [];
  subscription.on('message', (message: Message) => {
    const build: unknown = JSON.parse(message.data.toString('utf8'));
    received.push({
      attributes: message.attributes,
      build: typeof build === 'object' && build !== null ? {...build} : {},
      publishTime: message.publishTime,
    });
    message.ack();
  });
  const sink = new PubSubNotificationSink({
    topic: names.topic,
    projectId: harness.projectId,
  });
  return {
    topic: names.topic,
    sink,
    received,
    waitFor: count =>
      eventually(() => (received.length >= count ? [...received] : undefined), {
        timeoutMs: 15_000,
        waitingFor: `${count} build notifications on ${names.topic}`,
      }),
    async close() {
      await subscription.close();
      await sink.close();
      await subscription.delete();
      await topic.delete();
      await pubsub.close();
    },
  };
}

/** A minimal build pushing `images` (full references), tagged like the control plane's. */
export function dockerBuild(
  images: string[],
  extra: {tags?: string[]; substitutions?: Record<string, string>} = {},
) {
  return {
    steps: [
      {
        name: 'gcr.io/cloud-builders/docker',
        args: ['build', '-t', images[0] ?? 'x', '.'],
      },
    ],
    images,
    tags: extra.tags ?? ['arr-image-control-plane'],
    substitutions: extra.substitutions ?? {_IMAGE: 'arr-trainer'},
  };
}

/** The gRPC status code of a rejected client call. */
export async function rejectionCode(
  promise: Promise<unknown>,
): Promise<number | undefined> {
  try {
    await promise;
  } catch (error) {
    if (
      typeof error === 'object' &&
      error !== null &&
      'code' in error &&
      typeof error.code === 'number'
    ) {
      return error.code;
    }
    throw error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * The Build in an operation's BuildOperationMetadata. gax decodes it, but types
 * `Operation.metadata` loosely, so narrow it here.
 */
export function metadataBuild(operation: {
  metadata: unknown;
}): protos.google.devtools.cloudbuild.v1.IBuild {
  const metadata = operation.metadata;
  if (
    typeof metadata === 'object' &&
    metadata !== null &&
    'build' in metadata
  ) {
    const build: unknown = metadata.build;
    if (typeof build === 'object' && build !== null) return build;
  }
  throw new Error('the operation carries no BuildOperationMetadata');
}
