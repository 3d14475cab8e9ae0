/**
 * One entry that starts the stand-ins in this process: Artifact Registry (with the Docker
 * registry that holds its images), Cloud Build (pushing
 * into the Artifact Registry one), Resource Manager TagBindings (binding tags on the Artifact
 * Registry one's repositories) and Cloud Storage (the build contexts `arr changed --from`
 * uploads). The control plane finds them through ARTIFACT_REGISTRY_EMULATOR_HOST,
 * CLOUD_BUILD_EMULATOR_HOST, RESOURCE_MANAGER_EMULATOR_HOST and STORAGE_EMULATOR_HOST
 * (`standInEnvironment`).
 */
import {grpc} from 'google-gax';
import {ArtifactRegistryStandIn} from './artifact-registry-standin';
import {
  type BuildNotificationSink,
  DEFAULT_NOTIFICATION_TOPIC,
  PubSubNotificationSink,
} from './build-notifications';
import type {FetchStorageSource} from './build-runner';
import {type BuildDurations, CloudBuildStandIn} from './cloud-build-standin';
import type {DockerEngine} from './docker-engine';
import {CloudStorageStandIn} from './cloud-storage-standin';
import {parseRepositoryName} from './resource-names';
import type {ResourceIncarnation} from './tag-binding-store';
import {TagBindingsStandIn} from './tag-bindings-standin';

export interface StandInsOptions {
  /** 0 (default) picks a free port. */
  artifactRegistryPort?: number;
  /** 0 (default) picks a free port. */
  cloudBuildPort?: number;
  /** Topic for build notifications on the Pub/Sub emulator; default `cloud-builds`. */
  notificationTopic?: string;
  /** Overrides the Pub/Sub sink (then PUBSUB_EMULATOR_HOST is not needed). */
  notificationSink?: BuildNotificationSink;
  /** Project of the Pub/Sub topic; defaults to GOOGLE_CLOUD_PROJECT. */
  projectId?: string;
  buildDurations?: Partial<BuildDurations>;
  faultSeed?: number;
  /** Tag values (`P/key/value`) the TagBindings stand-in knows; deploy creates them in a project. */
  tagValues?: readonly string[];
  /** Cloud Build runs builds for real on this engine; simulated without one. */
  engine?: DockerEngine;
  /** Where real builds read their Cloud Storage source from. */
  fetchSource?: FetchStorageSource;
  /** Cloud Storage buckets that exist, after `reset()` too (deploy makes the contexts bucket). */
  buckets?: readonly string[];
}

export interface RunningStandIns {
  artifactRegistry: ArtifactRegistryStandIn;
  cloudBuild: CloudBuildStandIn;
  tagBindings: TagBindingsStandIn;
  cloudStorage: CloudStorageStandIn;
  /** The Docker registry of the Artifact Registry stand-in's images. */
  registry: {
    /** `127.0.0.1:PORT`: images are `HOST/PROJECT/REPOSITORY/IMAGE` for docker push and pull. */
    host: string;
  };
  /** `127.0.0.1:PORT` of each. */
  endpoints: {
    artifactRegistry: string;
    cloudBuild: string;
    tagBindings: string;
    cloudStorage: string;
  };
  /** Clears state, faults and call counts of each (between tests). */
  reset(): void;
  stop(): Promise<void>;
}

export async function startStandIns(
  options: StandInsOptions = {},
): Promise<RunningStandIns> {
  const sink =
    options.notificationSink ??
    new PubSubNotificationSink({
      topic: options.notificationTopic ?? DEFAULT_NOTIFICATION_TOPIC,
      projectId: options.projectId,
    });
  const artifactRegistry = await ArtifactRegistryStandIn.start({
    port: options.artifactRegistryPort,
    faultSeed: options.faultSeed,
  });
  let cloudBuild: CloudBuildStandIn;
  let tagBindings: TagBindingsStandIn;
  let cloudStorage: CloudStorageStandIn | undefined;
  try {
    cloudBuild = await CloudBuildStandIn.start({
      artifactStore: artifactRegistry.store,
      notificationSink: sink,
      port: options.cloudBuildPort,
      buildDurations: options.buildDurations,
      faultSeed: options.faultSeed,
      engine: options.engine,
      registryHost: artifactRegistry.registryHost,
      // A build reads its source from the Cloud Storage stand-in, as Cloud Build reads GCS.
      fetchSource:
        options.fetchSource ??
        (async ({bucket, object}) => {
          const bytes = cloudStorage?.readObject(bucket, object);
          if (!bytes) throw new Error(`No such object: ${bucket}/${object}`);
          return bytes;
        }),
    });
  } catch (error) {
    await artifactRegistry.stop();
    await sink.close?.();
    throw error;
  }
  try {
    tagBindings = await TagBindingsStandIn.start({
      faultSeed: options.faultSeed,
      tagValues: options.tagValues,
      resourceIncarnation: artifactRepositoryIncarnation(artifactRegistry),
    });
  } catch (error) {
    await cloudBuild.stop();
    await artifactRegistry.stop();
    await sink.close?.();
    throw error;
  }
  try {
    cloudStorage = await CloudStorageStandIn.start({
      faultSeed: options.faultSeed,
      buckets: options.buckets,
    });
  } catch (error) {
    await tagBindings.stop();
    await cloudBuild.stop();
    await artifactRegistry.stop();
    await sink.close?.();
    throw error;
  }
  return {
    artifactRegistry,
    cloudBuild,
    tagBindings,
    cloudStorage,
    registry: {host: artifactRegistry.registryHost},
    endpoints: {
      artifactRegistry: artifactRegistry.endpoint,
      cloudBuild: cloudBuild.endpoint,
      tagBindings: tagBindings.endpoint,
      cloudStorage: cloudStorage.endpoint,
    },
    reset() {
      artifactRegistry.reset();
      cloudBuild.reset();
      tagBindings.reset();
      cloudStorage.reset();
    },
    async stop() {
      await cloudStorage.stop();
      await tagBindings.stop();
      await cloudBuild.stop();
      await artifactRegistry.stop();
      await sink.close?.();
    },
  };
}

/**
 * For the TagBindings stand-in: the repository a full resource name names, as the Artifact
 * Registry stand-in holds it (null when absent, undefined for anything not a repository).
 */
export function artifactRepositoryIncarnation(
  artifactRegistry: ArtifactRegistryStandIn,
): ResourceIncarnation {
  const prefix = '//artifactregistry.googleapis.com/';
  return fullResourceName => {
    if (!fullResourceName.startsWith(prefix)) return undefined;
    let key;
    try {
      key = parseRepositoryName(fullResourceName.slice(prefix.length));
    } catch {
      return undefined;
    }
    return artifactRegistry.store.findRepository(key) ?? null;
  };
}

/** The environment variables that point the control plane at running stand-ins. */
export function standInEnvironment(
  standIns: Pick<RunningStandIns, 'endpoints'>,
): {
  ARTIFACT_REGISTRY_EMULATOR_HOST: string;
  CLOUD_BUILD_EMULATOR_HOST: string;
  RESOURCE_MANAGER_EMULATOR_HOST: string;
  STORAGE_EMULATOR_HOST: string;
} {
  return {
    ARTIFACT_REGISTRY_EMULATOR_HOST: standIns.endpoints.artifactRegistry,
    CLOUD_BUILD_EMULATOR_HOST: standIns.endpoints.cloudBuild,
    RESOURCE_MANAGER_EMULATOR_HOST: standIns.endpoints.tagBindings,
    // Read by @google-cloud/storage itself, as FIRESTORE_EMULATOR_HOST is by Firestore; it
    // puts https:// before a value without a scheme, so the scheme is given.
    STORAGE_EMULATOR_HOST: `http://${standIns.endpoints.cloudStorage}`,
  };
}

/**
 * Options for an official client (ArtifactRegistryClient, CloudBuildClient) pointed at a stand-in
 * `host:port`, that never looks for Google credentials:
 * - `sslCreds` (insecure) makes the client use that channel as-is instead of Google credentials;
 * - `universeDomain` must be given too: without it, google-gax asks google-auth-library for the
 *   universe domain of the Application Default Credentials before creating the stub, which
 *   searches for credentials and probes the GCE metadata server (a MetadataLookupWarning and a
 *   delay on machines without credentials).
 */
export function standInClientOptions(
  endpoint: string,
  projectId?: string,
): {
  apiEndpoint: string;
  port: number;
  sslCreds: grpc.ChannelCredentials;
  universeDomain: string;
  projectId?: string;
} {
  const match = /^(.+):(\d+)$/.exec(endpoint);
  if (!match)
    throw new Error(`stand-in endpoint must be host:port, got "${endpoint}"`);
  return {
    apiEndpoint: match[1],
    port: Number(match[2]),
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
    ...(projectId ? {projectId} : {}),
  };
}
