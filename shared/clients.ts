/**
 * The one place the official Google clients are built. In production they reach Google's
 * endpoints with Application Default Credentials; locally `FIRESTORE_EMULATOR_HOST`,
 * `PUBSUB_EMULATOR_HOST` and `STORAGE_EMULATOR_HOST` (read by those clients themselves) and
 * `ARTIFACT_REGISTRY_EMULATOR_HOST` / `CLOUD_BUILD_EMULATOR_HOST` /
 * `RESOURCE_MANAGER_EMULATOR_HOST` (read by our config) point them at the emulators and
 * stand-ins.
 *
 * Each client module is loaded on first use, so a function only pays at cold start for
 * the clients it actually calls.
 */
import type {ArtifactRegistryClient} from '@google-cloud/artifact-registry';
import type {CloudBuildClient} from '@google-cloud/cloudbuild';
import type {Firestore} from '@google-cloud/firestore';
import type {PubSub} from '@google-cloud/pubsub';
import type {Storage} from '@google-cloud/storage';
import type {TagBindingsClient} from '@google-cloud/resource-manager';
import type {ClientOptions} from 'google-gax';
import type {Config, HostPort} from './config';

// Stated, so that against the emulators gax does not go looking for credentials (and the
// GCE metadata server) only to learn the default.
const UNIVERSE_DOMAIN = 'googleapis.com';

export interface Clients {
  artifactRegistry(): Promise<ArtifactRegistryClient>;
  cloudBuild(): Promise<CloudBuildClient>;
  firestore(): Promise<Firestore>;
  pubsub(): Promise<PubSub>;
  /** Cloud Storage (the build contexts); only `arr changed --from` calls it. */
  storage(): Promise<Storage>;
  tagBindings(): Promise<TagBindingsClient>;
  close(): Promise<void>;
}

async function endpointOptions(
  projectId: string,
  emulator: HostPort | undefined,
): Promise<ClientOptions> {
  if (!emulator) return {projectId, universeDomain: UNIVERSE_DOMAIN};
  const {grpc} = await import('google-gax');
  return {
    projectId,
    apiEndpoint: emulator.host,
    port: emulator.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: UNIVERSE_DOMAIN,
  };
}

/**
 * Tag bindings on a regional resource (an Artifact Registry repository) are made through the
 * Resource Manager endpoint of its region, `<region>-cloudresourcemanager.googleapis.com`;
 * the global endpoint serves global resources only (projects, folders). gcloud does the same
 * for `resource-manager tags bindings --location` (command_lib/resource_manager/endpoint_utils.py).
 */
export async function tagBindingsClientOptions(
  config: Pick<Config, 'projectId' | 'region' | 'resourceManagerEmulator'>,
): Promise<ClientOptions> {
  if (config.resourceManagerEmulator) {
    return endpointOptions(config.projectId, config.resourceManagerEmulator);
  }
  return {
    projectId: config.projectId,
    universeDomain: UNIVERSE_DOMAIN,
    apiEndpoint: `${config.region}-cloudresourcemanager.${UNIVERSE_DOMAIN}`,
  };
}

function memoize<T>(create: () => Promise<T>): {
  get: () => Promise<T>;
  peek: () => Promise<T> | undefined;
} {
  let value: Promise<T> | undefined;
  return {
    get: () => (value ??= create()),
    peek: () => value,
  };
}

export function createClients(config: Config): Clients {
  const artifactRegistry = memoize(async () => {
    const {ArtifactRegistryClient} =
      await import('@google-cloud/artifact-registry');
    return new ArtifactRegistryClient(
      await endpointOptions(config.projectId, config.artifactRegistryEmulator),
    );
  });
  const cloudBuild = memoize(async () => {
    const {CloudBuildClient} = await import('@google-cloud/cloudbuild');
    return new CloudBuildClient(
      await endpointOptions(config.projectId, config.cloudBuildEmulator),
    );
  });
  const firestore = memoize(async () => {
    const {Firestore} = await import('@google-cloud/firestore');
    return new Firestore({
      projectId: config.projectId,
      ignoreUndefinedProperties: true,
      universeDomain: UNIVERSE_DOMAIN,
    });
  });
  const pubsub = memoize(async () => {
    const {PubSub} = await import('@google-cloud/pubsub');
    // In clientOptions: a top-level universeDomain would take PubSub out of emulator mode.
    return new PubSub({
      projectId: config.projectId,
      clientOptions: {universeDomain: UNIVERSE_DOMAIN},
    });
  });
  const storage = memoize(async () => {
    const {Storage} = await import('@google-cloud/storage');
    // Its own retry off: the one upload is retried in shared/build-contexts.ts, once per call.
    return new Storage({
      projectId: config.projectId,
      retryOptions: {autoRetry: false},
    });
  });

  const tagBindings = memoize(async () => {
    const {TagBindingsClient} = await import('@google-cloud/resource-manager');
    // resource-manager is still on google-gax 5 (the others on 6): the same options, typed
    // by its copy of gax. They carry no auth object, the one field whose types differ.
    const options = (await tagBindingsClientOptions(
      config,
    )) as ConstructorParameters<typeof TagBindingsClient>[0];
    return new TagBindingsClient(options);
  });

  return {
    artifactRegistry: artifactRegistry.get,
    cloudBuild: cloudBuild.get,
    firestore: firestore.get,
    pubsub: pubsub.get,
    storage: storage.get,
    tagBindings: tagBindings.get,
    async close() {
      await Promise.all([
        artifactRegistry.peek()?.then(c => c.close()),
        cloudBuild.peek()?.then(c => c.close()),
        firestore.peek()?.then(c => c.terminate()),
        pubsub.peek()?.then(c => c.close()),
        tagBindings.peek()?.then(c => c.close()),
      ]);
    },
  };
}
