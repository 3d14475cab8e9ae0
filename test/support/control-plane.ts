/**
 * The control plane under test: the Artifact Registry, Cloud Build and TagBindings stand-ins
 * (started once per suite, reset before every test by the harness) and a Context whose
 * clients reach them and the emulators, with logs captured so tests can assert what was
 * logged at ERROR. The project's `arr-lifecycle` tag is as deploy leaves it.
 */
import {Writable} from 'node:stream';
import {ArtifactRegistryStandIn} from '../../local/standins/artifact-registry-standin';
import {MemoryNotificationSink} from '../../local/standins/build-notifications';
import type {BuildStatus} from '../../local/standins/build-status';
import {
  type BuildDurations,
  CloudBuildStandIn,
} from '../../local/standins/cloud-build-standin';
import {artifactRepositoryIncarnation} from '../../local/standins/start-standins';
import {TagBindingsStandIn} from '../../local/standins/tag-bindings-standin';
import {applyDeployedLifecycleTags} from '../../local/lifecycle-tags';
import {buildFinishedHandler} from '../../functions/build-finished/handler';
import {dockerfileChangedHandler} from '../../functions/dockerfile-changed/handler';
import {BUILDS} from '../../shared/build-records';
import {IMAGES} from '../../shared/manifest';
import {runRecords} from '../../shared/runs';
import {STATS} from '../../shared/savings';
import {type Inbox, openInbox} from './inbox';
import {handleDelivery} from '../../shared/handle-delivery';
import {LIFECYCLE_LABEL} from '../../shared/artifact-registry';
import {repositoryResourceName} from '../../shared/repository-id';
import {Catalog, imageCatalog} from '../../shared/catalog';
import {Config, loadConfig} from '../../shared/config';
import {Context, createContext} from '../../shared/context';
import {createLogger} from '../../shared/log';
import type {PubSubCloudEvent} from '../../shared/decode-message';
import {harness, onEachTest, onSuiteEnd} from '../harness/harness';
import {eventually} from '../harness/wait';

let artifactRegistry: ArtifactRegistryStandIn | undefined;
let cloudBuild: CloudBuildStandIn | undefined;
let tagBindings: TagBindingsStandIn | undefined;
// In-process tests relay Cloud Build's notifications themselves, in the order (and with
// the duplicates) the stand-in produced them; end-to-end tests go through Pub/Sub.
const notifications = new MemoryNotificationSink();

onEachTest(() => {
  artifactRegistry?.reset();
  cloudBuild?.reset();
  if (tagBindings) {
    tagBindings.reset();
    applyDeployedLifecycleTags(tagBindings, harness.projectId);
  }
  cloudBuild?.setNotificationSink(notifications);
  notifications.received.length = 0;
});
onSuiteEnd(async () => {
  await tagBindings?.stop();
  tagBindings = undefined;
  await cloudBuild?.stop();
  await artifactRegistry?.stop();
  cloudBuild = undefined;
  artifactRegistry = undefined;
});

export async function artifactRegistryStandIn(): Promise<ArtifactRegistryStandIn> {
  artifactRegistry ??= await ArtifactRegistryStandIn.start();
  return artifactRegistry;
}

async function tagBindingsStandIn(): Promise<TagBindingsStandIn> {
  const registry = await artifactRegistryStandIn();
  if (!tagBindings) {
    tagBindings = await TagBindingsStandIn.start({
      resourceIncarnation: artifactRepositoryIncarnation(registry),
    });
    applyDeployedLifecycleTags(tagBindings, harness.projectId);
  }
  return tagBindings;
}

async function cloudBuildStandIn(): Promise<CloudBuildStandIn> {
  const registry = await artifactRegistryStandIn();
  cloudBuild ??= await CloudBuildStandIn.start({
    artifactStore: registry.store,
    notificationSink: notifications,
  });
  return cloudBuild;
}

export interface LogLine {
  severity: string;
  message: string;
  [field: string]: unknown;
}

export interface TestControlPlane {
  config: Config;
  context: Context;
  artifactRegistry: ArtifactRegistryStandIn;
  cloudBuild: CloudBuildStandIn;
  tagBindings: TagBindingsStandIn;
  /**
   * Waits for every build to settle, then hands the notifications produced since the last
   * call to buildFinished, in order. Returns how many were delivered.
   */
  relayBuildNotifications(): Promise<number>;
  /**
   * Hands buildFinished the notifications queued so far, builds still running or not
   * (including any sent with `cloudBuild.publishNotification`). Returns their event ids.
   */
  relayPendingNotifications(): Promise<string[]>;
  /** Resolves when every build started so far has finished and its notifications are out. */
  allBuildsFinished(): Promise<void>;
  /** Everything logged, parsed, in order. */
  logs: LogLine[];
  /** The environment a function process needs to reach the same parts. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * The checked-in catalog with every image keyed on its Dockerfile alone: the original
 * contract, which Dockerfile-keyed images keep exactly (the suites written against it
 * run on this; context keys have suites of their own on the real catalog).
 */
export function dockerfileKeyedCatalog(): Catalog {
  return new Catalog(
    imageCatalog().images.map(image => ({...image, keyCovers: 'dockerfile'})),
  );
}

/** Both repositories as setup leaves them, each labelled with its tier (so the ephemeral one is deletable). */
export function seedSetUpRepositories(plane: TestControlPlane): void {
  const {projectId, region, persistentRepository, ephemeralRepository} =
    plane.context.config;
  for (const [id, tier] of [
    [persistentRepository, 'persistent'],
    [ephemeralRepository, 'ephemeral'],
  ] as const) {
    plane.artifactRegistry.seedRepository(
      repositoryResourceName(projectId, region, id),
      {labels: {[LIFECYCLE_LABEL]: tier}},
    );
  }
}

export async function testControlPlane(
  overrides: Record<string, string> = {},
  options: {catalog?: Catalog} = {},
): Promise<TestControlPlane> {
  const registry = await artifactRegistryStandIn();
  const builds = await cloudBuildStandIn();
  const tags = await tagBindingsStandIn();
  const env: Record<string, string> = {
    ...harness.env,
    ARTIFACT_REGISTRY_EMULATOR_HOST: registry.endpoint,
    CLOUD_BUILD_EMULATOR_HOST: builds.endpoint,
    RESOURCE_MANAGER_EMULATOR_HOST: tags.endpoint,
    ...overrides,
  };
  const config = loadConfig(env);
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  const context = createContext(config, {
    log: createLogger({test: 'true'}, sink),
    catalog: options.catalog,
  });
  // Tests count on retries being quick; the policy under test is the same otherwise.
  let relayed = 0;
  // settled() only drains notifications already queued; a build still QUEUED or
  // WORKING has more to come, so wait for every build to reach its end first.
  const allBuildsFinished = async () => {
    await Promise.all(builds.buildIds().map(id => builds.whenFinished(id)));
    await builds.settled();
  };
  const relayPendingNotifications = async () => {
    await builds.settled();
    const pending = notifications.received.slice(relayed);
    relayed += pending.length;
    const ids: string[] = [];
    for (const {attributes, data} of pending) {
      const event = pubSubEvent(undefined, {
        rawData: data.toString('base64'),
        attributes: {...attributes},
      });
      await handleDelivery(event, buildFinishedHandler, context);
      ids.push(event.id);
    }
    return ids;
  };
  const relayBuildNotifications = async () => {
    let delivered = 0;
    for (;;) {
      await allBuildsFinished();
      const relayedNow = (await relayPendingNotifications()).length;
      if (relayedNow === 0) return delivered;
      delivered += relayedNow;
    }
  };
  return {
    config,
    context,
    artifactRegistry: registry,
    cloudBuild: builds,
    tagBindings: tags,
    relayBuildNotifications,
    relayPendingNotifications,
    allBuildsFinished,
    logs,
    env,
    close: () => context.clients.close(),
  };
}

/** Waits until the Cloud Build stand-in has `buildId` at `status`. */
export async function waitForBuildStatus(
  plane: TestControlPlane,
  buildId: string,
  status: BuildStatus,
): Promise<void> {
  await eventually(
    () => (plane.cloudBuild.buildStatus(buildId) === status ? true : undefined),
    {
      intervalMs: 5,
      timeoutMs: 10_000,
      waitingFor: `build ${buildId} to be ${status}`,
    },
  );
}

/**
 * Everything a build notification could change wrongly: the build records, the manifest,
 * the savings counters, and how many builds were started in the plane's project.
 */
export async function buildOutcomes(plane: TestControlPlane): Promise<object> {
  const firestore = await plane.context.clients.firestore();
  const all = async (collection: string) =>
    (await firestore.collection(collection).get()).docs.map(d => [
      d.id,
      d.data(),
    ]);
  return {
    builds: await all(BUILDS),
    images: await all(IMAGES),
    stats: await all(STATS),
    buildsStarted: plane.cloudBuild.calls
      .requests('CreateBuild')
      .filter(request => request.projectId === plane.config.projectId).length,
  };
}

let eventCounter = 0;

/** A Pub/Sub CloudEvent as Eventarc delivers it, with `data` JSON-encoded. */
export function pubSubEvent(
  data: unknown,
  options: {
    id?: string;
    attributes?: Record<string, string>;
    rawData?: string;
  } = {},
): PubSubCloudEvent {
  const id = options.id ?? `test-event-${process.pid}-${++eventCounter}`;
  return {
    id,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: `//pubsub.googleapis.com/projects/${harness.projectId}/topics/test`,
    data: {
      subscription: `projects/${harness.projectId}/subscriptions/test`,
      message: {
        data:
          options.rawData ??
          Buffer.from(JSON.stringify(data)).toString('base64'),
        attributes: options.attributes,
        messageId: id,
        publishTime: new Date().toISOString(),
      },
    },
  };
}

/**
 * Hooks for the calling suite: before each test a fresh control plane with both
 * repositories set up, its builds this quick, and an inbox on dockerfile-changed (where
 * the runs publish dependents), handed to `use`; both closed after it.
 */
export function eachTestPlaneAndInbox(
  options: {catalog?: Catalog; buildDurations: Partial<BuildDurations>},
  use: (plane: TestControlPlane, inbox: Inbox) => void,
): void {
  let plane: TestControlPlane | undefined;
  let inbox: Inbox | undefined;
  beforeEach(async () => {
    plane = await testControlPlane({}, {catalog: options.catalog});
    seedSetUpRepositories(plane);
    plane.cloudBuild.setBuildDurations(options.buildDurations);
    inbox = await openInbox('dockerfile-changed');
    use(plane, inbox);
  });
  afterEach(async () => {
    await inbox?.close();
    await plane?.close();
  });
}

/**
 * Relays build notifications and handles the dockerfile-changed messages the runs
 * published (their ids are in the runs' `spawned`), until nothing is left to do: a
 * dependent's build follows its parent's as it would over Pub/Sub. `handled` remembers
 * which messages were already handled across calls within a test.
 */
export async function runToQuiet(
  plane: TestControlPlane,
  inbox: Inbox,
  handled: Set<string>,
): Promise<void> {
  const firestore = await plane.context.clients.firestore();
  for (;;) {
    const relayed = await plane.relayBuildNotifications();
    const runs = await runRecords(firestore).get();
    const spawned = runs.docs
      .flatMap(d => d.data().spawned ?? [])
      .map(s => s.messageId)
      .filter(id => !handled.has(id));
    await inbox.waitFor(spawned);
    const messages = inbox.take();
    for (const message of messages) {
      handled.add(message.id);
      await handleDelivery(
        pubSubEvent(undefined, {
          id: message.id,
          rawData: message.data.toString('base64'),
        }),
        dockerfileChangedHandler,
        plane.context,
      );
    }
    if (relayed === 0 && messages.length === 0) return;
  }
}
