/**
 * The cold-start floor: a function served by functions-framework that does nothing but
 * what a function using these clients cannot avoid. On its first event it loads the
 * client modules named in FLOOR_CLIENTS (comma-separated: firestore, artifactRegistry,
 * cloudBuild, pubsub), builds each the cheapest correct way (no credential lookup
 * against the emulators and stand-ins) and makes one call with each.
 *
 * Target name from FLOOR_TARGET, so it is served under the same name as the real one.
 */
import * as functions from '@google-cloud/functions-framework';
import type {CloudEvent} from '@google-cloud/functions-framework';

const UNIVERSE_DOMAIN = 'googleapis.com';
const projectId = process.env.GOOGLE_CLOUD_PROJECT ?? 'arr-local';
const region = process.env.REGION ?? 'us-central1';
const clients = (process.env.FLOOR_CLIENTS ?? 'firestore')
  .split(',')
  .filter(c => c !== '');

async function stubOptions(endpoint: string | undefined) {
  const [host, port] = (endpoint ?? '').split(':');
  const {grpc} = await import('google-gax');
  return {
    projectId,
    apiEndpoint: host,
    port: Number(port),
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: UNIVERSE_DOMAIN,
  };
}

const CALLS: Record<string, (id: string) => Promise<void>> = {
  async firestore(id) {
    const {Firestore} = await import('@google-cloud/firestore');
    const firestore = new Firestore({
      projectId,
      universeDomain: UNIVERSE_DOMAIN,
    });
    await firestore
      .collection('floor')
      .doc(id)
      .set({at: new Date().toISOString()});
  },
  async artifactRegistry() {
    const {ArtifactRegistryClient} =
      await import('@google-cloud/artifact-registry');
    const client = new ArtifactRegistryClient(
      await stubOptions(process.env.ARTIFACT_REGISTRY_EMULATOR_HOST),
    );
    await client
      .getRepository({
        name: `projects/${projectId}/locations/${region}/repositories/arr-coc-registry-persistent`,
      })
      .catch(() => undefined);
  },
  async cloudBuild() {
    const {CloudBuildClient} = await import('@google-cloud/cloudbuild');
    const client = new CloudBuildClient(
      await stubOptions(process.env.CLOUD_BUILD_EMULATOR_HOST),
    );
    await client.getBuild({projectId, id: 'floor'}).catch(() => undefined);
  },
  async pubsub() {
    const {PubSub} = await import('@google-cloud/pubsub');
    const pubsub = new PubSub({
      projectId,
      clientOptions: {universeDomain: UNIVERSE_DOMAIN},
    });
    await pubsub.topic('setup-requested').exists();
  },
};

functions.cloudEvent(
  process.env.FLOOR_TARGET ?? 'floor',
  async (event: CloudEvent<unknown>) => {
    for (const client of clients) {
      const call = CALLS[client];
      if (!call) throw new Error(`FLOOR_CLIENTS: unknown client "${client}"`);
      await call(event.id);
    }
  },
);
