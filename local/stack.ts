/**
 * The whole control plane on one machine, on loopback: the Firestore and
 * Pub/Sub emulators, the Artifact Registry stand-in with the Docker registry
 * that holds its images, the Cloud Build, TagBindings and Cloud Storage
 * stand-ins (the last with the contexts bucket deploy makes), the four
 * functions served by functions-framework, and the topics with push
 * subscriptions to them, as deploy wires them in a project.
 *
 * `npm start` (stack-cli.ts) runs it for people; tests and benchmarks call
 * `startLocalStack` and get the environment that reaches it.
 */
import {resolve} from 'node:path';
import {PubSub, type Topic} from '@google-cloud/pubsub';
import {CONFIG_DEFAULTS, defaultContextsBucket} from '../shared/config';
import {
  type LocalEmulators,
  emulatorEnvironment,
  startEmulators,
  type EmulatorKind,
} from './emulators';
import {
  type FunctionHostEvent,
  type ServedFunctions,
  serveFunctions,
} from './function-host';
import {applyDeployedLifecycleTags, lifecycleTagValues} from './lifecycle-tags';
import {checkEmulatorPrerequisites} from './prerequisites';
import {
  DOCKER_INSTALL_HINT,
  type DockerEngine,
  probeDockerEngine,
} from './standins/docker-engine';
import {ensureExampleRootImage} from './standins/example-root-image';
import {
  type BuildDurations,
  type BuildNotificationAttributes,
  type BuildNotificationSink,
  type RunningStandIns,
  standInEnvironment,
  startStandIns,
} from './standins';
import {REPOSITORY_ROOT} from '../cli/stack-state';
import {
  DEFAULT_TOPICS,
  type EntryPoint,
  routesFor,
} from '../shared/function-specs';

import {DEFAULT_BUILD_SECONDS, DEFAULT_LOCAL_PROJECT} from './stack-options';

/** Topic → function target, from the function specs deploy creates the functions by. */
export const LOCAL_ROUTES: Readonly<Record<string, EntryPoint>> =
  routesFor(DEFAULT_TOPICS);

export interface LocalStackOptions {
  /** Default `arr-local`. */
  readonly projectId?: string;
  /** Default `us-central1`. */
  readonly region?: string;
  /** Default `arr-coc-registry-persistent`. */
  readonly persistentRepository?: string;
  /** Default `arr-coc-registry`. */
  readonly ephemeralRepository?: string;
  /** How long a simulated build stays WORKING, in seconds (QUEUED takes a fifth of it, at most 1 s). */
  readonly buildSeconds?: number;
  /**
   * `real`: builds run on the Docker engine (DOCKER_HOST, else the default socket) and the stack
   * fails to start without one; `auto`: real when an engine answers, else simulated, said loudly;
   * `simulated` (default): no engine is asked.
   */
  readonly builds?: BuildMode;
  /** Compiled source registering the functions; default build/functions/index.js. */
  readonly functionsSource?: string;
  /** LOG_LEVEL of the function processes; default `info`. */
  readonly logLevel?: string;
  /** More environment for the functions (e.g. MAX_BUILD_ATTEMPTS). */
  readonly functionEnv?: Readonly<Record<string, string>>;
  /**
   * Serve the functions that start and report the others, instead of failing.
   * For working on a function that is not written yet; `npm start` fails.
   */
  readonly skipMissingFunctions?: boolean;
  /** How long to wait for each emulator; default 60 s. */
  readonly emulatorTimeoutMs?: number;
  /**
   * Emulators already running (a test run's shared pair): the stack works in them, in its
   * own project (they keep projects apart), and leaves them running when it stops.
   */
  readonly emulators?: Readonly<Record<EmulatorKind, {readonly host: string}>>;
  /** Called with each progress line while starting ("Firestore emulator on …"). */
  readonly onProgress?: (line: string) => void;
  /**
   * Start a function again when its process exits unasked (default true), as
   * the platform does: Pub/Sub redelivers what it did not acknowledge.
   */
  readonly restartFunctions?: boolean;
  /** Each line a function writes (its JSON logs), once it serves. */
  readonly onFunctionLine?: (target: string, line: string) => void;
  /** A function exited unasked, was started again, or stays down. */
  readonly onFunctionEvent?: (event: FunctionHostEvent) => void;
}

export type BuildMode = 'real' | 'auto' | 'simulated';

/** How the stack's Cloud Build runs builds, and why. */
export type StackBuilds =
  | {readonly mode: 'real'; readonly engine: DockerEngine}
  | {readonly mode: 'simulated'; readonly reason: string};

export interface ServedFunction {
  readonly topic: string;
  readonly target: string;
  readonly url: string;
  readonly subscription: string;
}

export interface SkippedFunction {
  readonly topic: string;
  readonly target: string;
  readonly reason: string;
}

export interface LocalStackEndpoints {
  readonly firestore: string;
  readonly pubsub: string;
  readonly artifactRegistry: string;
  /** The Docker registry host: images are `HOST/PROJECT/REPOSITORY/IMAGE`. */
  readonly registry: string;
  readonly cloudBuild: string;
  readonly tagBindings: string;
  /** STORAGE_EMULATOR_HOST is this with `http://` before it. */
  readonly cloudStorage: string;
}

export interface LocalStack {
  readonly projectId: string;
  readonly region: string;
  /**
   * What a client (the `arr` CLI, a test) needs to reach the stack:
   * GOOGLE_CLOUD_PROJECT, FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST,
   * ARTIFACT_REGISTRY_EMULATOR_HOST, CLOUD_BUILD_EMULATOR_HOST,
   * RESOURCE_MANAGER_EMULATOR_HOST, STORAGE_EMULATOR_HOST, REGION, the
   * repository names and CONTEXTS_BUCKET.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly endpoints: LocalStackEndpoints;
  readonly standIns: RunningStandIns;
  readonly functions: readonly ServedFunction[];
  readonly skipped: readonly SkippedFunction[];
  readonly buildSeconds: number;
  readonly builds: StackBuilds;
  /** The tail of a function's logs (JSON lines), by target. */
  functionOutput(target: string): string;
  /** Stops everything it started; resolves when no process of it is left. Idempotent. */
  stop(): Promise<void>;
}

/** Build notifications to the stack's own emulator, whatever PUBSUB_EMULATOR_HOST says. */
class EmulatorTopicSink implements BuildNotificationSink {
  constructor(private readonly topic: Topic) {}
  async publish(
    attributes: BuildNotificationAttributes,
    data: Buffer,
  ): Promise<void> {
    await this.topic.publishMessage({data, attributes: {...attributes}});
  }
}

/** A PubSub client for one emulator, independent of PUBSUB_EMULATOR_HOST. */
export function emulatorPubSub(host: string, projectId: string): PubSub {
  // apiEndpoint on loopback puts the client in emulator mode (insecure channel);
  // the universe domain goes in clientOptions so gax never looks for credentials.
  return new PubSub({
    projectId,
    apiEndpoint: host,
    emulatorMode: true,
    clientOptions: {universeDomain: 'googleapis.com'},
  });
}

export function buildDurationsFor(seconds: number): BuildDurations {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(
      `build seconds must be a number ≥ 0, got ${String(seconds)}`,
    );
  }
  const workingMs = Math.round(seconds * 1000);
  return {queuedMs: Math.min(1000, Math.round(workingMs / 5)), workingMs};
}

export async function startLocalStack(
  options: LocalStackOptions = {},
): Promise<LocalStack> {
  const projectId = options.projectId ?? DEFAULT_LOCAL_PROJECT;
  const region = options.region ?? CONFIG_DEFAULTS.region;
  const buildSeconds = options.buildSeconds ?? DEFAULT_BUILD_SECONDS;
  const durations = buildDurationsFor(buildSeconds);
  const source =
    options.functionsSource ??
    resolve(REPOSITORY_ROOT, 'build', 'functions', 'index.js');
  const progress = options.onProgress ?? (() => {});

  // Fails at once, listing every missing piece with how to install it (before builds are
  // chosen: making the example root image runs tools a broken PATH may lack too).
  const toolchain = options.emulators
    ? undefined
    : await checkEmulatorPrerequisites();
  const builds = await chooseBuilds(options.builds ?? 'simulated');

  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await withTimeout(cleanup(), CLEANUP_STEP_TIMEOUT_MS);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  };

  const startOwnEmulators = async () => {
    const started: LocalEmulators = await startEmulators({
      toolchain,
      timeoutMs: options.emulatorTimeoutMs,
    });
    cleanups.push(() => started.stop());
    return started;
  };

  try {
    const emulators = options.emulators ?? (await startOwnEmulators());
    progress(`Firestore emulator on ${emulators.firestore.host}`);
    progress(`Pub/Sub emulator on ${emulators.pubsub.host}`);

    const pubsub = emulatorPubSub(emulators.pubsub.host, projectId);
    cleanups.push(() => pubsub.close());

    // Every topic exists before anything publishes: Cloud Build's `cloud-builds`
    // topic too, even when no function listens to it.
    for (const topic of Object.keys(LOCAL_ROUTES)) {
      await ensureTopic(pubsub, topic);
    }

    const notificationTopic = pubsub.topic(DEFAULT_TOPICS.cloudBuildsTopic, {
      batching: {maxMessages: 1},
    });
    const contextsBucket = defaultContextsBucket(projectId);
    const standIns = await startStandIns({
      notificationSink: new EmulatorTopicSink(notificationTopic),
      projectId,
      buildDurations: durations,
      tagValues: lifecycleTagValues(projectId),
      engine: builds.mode === 'real' ? builds.engine : undefined,
      buckets: [contextsBucket],
    });
    cleanups.push(() => standIns.stop());
    applyDeployedLifecycleTags(standIns.tagBindings, projectId);
    progress(
      `Artifact Registry stand-in on ${standIns.endpoints.artifactRegistry}`,
    );
    progress(`Docker registry of its images on ${standIns.registry.host}`);
    progress(`Cloud Build stand-in on ${standIns.endpoints.cloudBuild}`);
    progress(describeBuilds(builds));
    progress(
      `Resource Manager TagBindings stand-in on ${standIns.endpoints.tagBindings}`,
    );
    progress(
      `Cloud Storage stand-in on ${standIns.endpoints.cloudStorage} (bucket ${contextsBucket})`,
    );

    const env: Record<string, string> = {
      ...emulatorEnvironment(emulators, projectId),
      ...standInEnvironment(standIns),
      REGION: region,
      PERSISTENT_REPOSITORY:
        options.persistentRepository ?? CONFIG_DEFAULTS.persistentRepository,
      EPHEMERAL_REPOSITORY:
        options.ephemeralRepository ?? CONFIG_DEFAULTS.ephemeralRepository,
      CLOUD_BUILDS_TOPIC: DEFAULT_TOPICS.cloudBuildsTopic,
      DOCKERFILE_CHANGED_TOPIC: DEFAULT_TOPICS.dockerfileChangedTopic,
      CONTEXTS_BUCKET: contextsBucket,
      // Every image path the functions and arr build names the stack's own registry.
      REGISTRY_HOST: standIns.registry.host,
    };
    const functionEnv = {
      ...env,
      LOG_LEVEL: options.logLevel ?? 'info',
      ...options.functionEnv,
    };

    // One serveFunctions per topic, so that one target that does not start
    // can be reported (or skipped) on its own.
    const routes = Object.entries(LOCAL_ROUTES);
    const results = await Promise.allSettled(
      routes.map(([topic, target]) =>
        serveFunctions({
          source,
          routes: {[topic]: target},
          pubsub,
          projectId,
          env: functionEnv,
          restart: options.restartFunctions ?? true,
          onLine: options.onFunctionLine,
          onEvent: options.onFunctionEvent,
        }),
      ),
    );
    const served: Array<{topic: string; target: string; s: ServedFunctions}> =
      [];
    const skipped: SkippedFunction[] = [];
    results.forEach((result, i) => {
      const [topic, target] = routes[i];
      if (result.status === 'fulfilled') {
        served.push({topic, target, s: result.value});
        cleanups.push(() => result.value.stop());
      } else {
        skipped.push({
          topic,
          target,
          reason: (result.reason as Error).message,
        });
      }
    });
    if (skipped.length > 0 && !options.skipMissingFunctions) {
      throw new Error(
        skipped
          .map(
            s =>
              `Function ${s.target} (topic ${s.topic}) did not start: ${s.reason}`,
          )
          .join('\n\n'),
      );
    }
    const functions = served.map(({topic, target, s}) => ({
      topic,
      target,
      url: s.urls[target],
      subscription: s.subscriptions[topic],
    }));
    for (const f of functions) {
      progress(`${f.target} on ${f.url} ← push subscription on ${f.topic}`);
    }

    let stopping: Promise<void> | undefined;
    return {
      projectId,
      region,
      env,
      endpoints: {
        firestore: emulators.firestore.host,
        pubsub: emulators.pubsub.host,
        artifactRegistry: standIns.endpoints.artifactRegistry,
        registry: standIns.registry.host,
        cloudBuild: standIns.endpoints.cloudBuild,
        tagBindings: standIns.endpoints.tagBindings,
        cloudStorage: standIns.endpoints.cloudStorage,
      },
      standIns,
      functions,
      skipped,
      buildSeconds,
      builds,
      functionOutput(target: string): string {
        const host = served
          .flatMap(({s}) => s.hosts)
          .find(h => h.target === target);
        return host?.output ?? '';
      },
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}

/** Asks the engine when the mode allows it; real builds also need the example root image. */
async function chooseBuilds(mode: BuildMode): Promise<StackBuilds> {
  if (mode === 'simulated') {
    return {mode: 'simulated', reason: 'simulated builds were asked for'};
  }
  const probe = await probeDockerEngine();
  if (!probe.ok) {
    if (mode === 'real') {
      throw new Error(
        `Real builds need a Docker engine, and none answers: ${probe.reason}.\nTo fix: ${DOCKER_INSTALL_HINT}.`,
      );
    }
    return {
      mode: 'simulated',
      reason: `no Docker engine answers (${probe.reason}); to build for real, ${DOCKER_INSTALL_HINT}`,
    };
  }
  await ensureExampleRootImage(probe.engine);
  return {mode: 'real', engine: probe.engine};
}

/** The banner's line about builds: real ones name the engine, simulated ones say so loudly. */
export function describeBuilds(builds: StackBuilds): string {
  return builds.mode === 'real'
    ? `Builds run for real on Docker Engine ${builds.engine.serverVersion} (${builds.engine.cli})`
    : `⚠ Builds are SIMULATED: they wait and push a placeholder image (${builds.reason})`;
}

/**
 * One stop step may wait on a part that is already gone (deleting a
 * subscription on an emulator that was killed); it must not hold up the rest.
 */
const CLEANUP_STEP_TIMEOUT_MS = 10_000;

function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>(resolve => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([work.then(() => {}), timeout]).finally(() =>
    clearTimeout(timer),
  );
}

async function ensureTopic(pubsub: PubSub, name: string): Promise<void> {
  try {
    await pubsub.createTopic(name);
  } catch (err) {
    // 6 = ALREADY_EXISTS
    if ((err as {code?: unknown}).code !== 6) throw err;
  }
}
