/**
 * `arr changed --from <folder>`, run as a user runs it, against the Pub/Sub emulator and
 * the Cloud Storage stand-in: the context it hashed is uploaded where the message's
 * source says, once, before the message is published; a failed upload publishes nothing.
 */
import * as assert from 'assert';
import {execFileSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {type Message, PubSub, type Subscription} from '@google-cloud/pubsub';
import {grpc} from 'google-gax';
import {CloudStorageStandIn} from '../../local/standins/cloud-storage-standin';
import {listContext} from '../../shared/context-digest';
import {harness} from '../harness/harness';
import {uniqueTopicAndSubscription} from '../harness/names';
import {eventually} from '../harness/wait';
import {runProcess, userShellEnvironment} from '../support/processes';

const ARR = path.resolve(__dirname, '../../cli/arr.js');
const BUCKET = `${harness.projectId}-arr-build-contexts`;

interface Published {
  image: string;
  dockerfileHash: string;
  contextDigest?: string;
  source: string;
}

describe('arr changed --from uploads the build context it hashed', function () {
  this.timeout(120_000);
  let storage: CloudStorageStandIn;
  let pubsub: PubSub;
  let subscription: Subscription;
  let topic: string;
  let received: Published[];
  let dir: string;

  before(async () => {
    storage = await CloudStorageStandIn.start({buckets: [BUCKET]});
    pubsub = new PubSub({
      projectId: harness.projectId,
      clientOptions: {universeDomain: 'googleapis.com'},
    });
    const names = uniqueTopicAndSubscription('dockerfile-changed');
    topic = names.topic;
    const [created] = await pubsub.createTopic(names.topic);
    [subscription] = await created.createSubscription(names.subscription);
    subscription.on('message', (message: Message) => {
      received.push(JSON.parse(message.data.toString('utf8')) as Published);
      message.ack();
    });
  });
  beforeEach(() => {
    storage.reset();
    received = [];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-changed-upload-'));
  });
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));
  after(async () => {
    await subscription?.close();
    await subscription?.delete();
    await pubsub?.topic(topic).delete();
    await pubsub?.close();
    await storage?.stop();
  });

  /** An image folder as an engineer has it: code, a .dockerignore, clutter it leaves out. */
  function imageFolder(): string {
    const folder = path.join(dir, 'arr-pytorch-base');
    fs.mkdirSync(path.join(folder, 'patches'), {recursive: true});
    fs.writeFileSync(
      path.join(folder, 'Dockerfile'),
      'FROM scratch\nCOPY . /\n',
    );
    fs.writeFileSync(path.join(folder, 'requirements.txt'), 'torch==2.5\n');
    fs.writeFileSync(path.join(folder, 'patches', 'cuda.patch'), '--- a\n');
    fs.writeFileSync(path.join(folder, '.dockerignore'), '*.md\nwheels\n');
    fs.writeFileSync(path.join(folder, 'NOTES.md'), 'not sent');
    fs.mkdirSync(path.join(folder, 'wheels'));
    fs.writeFileSync(path.join(folder, 'wheels', 'torch.whl'), 'big');
    return folder;
  }

  function arr(env: Record<string, string>, ...args: string[]) {
    return runProcess(process.execPath, [ARR, ...args], {
      env: {
        ...userShellEnvironment(path.join(dir, 'no-stack.json')),
        GOOGLE_CLOUD_PROJECT: harness.projectId,
        PUBSUB_EMULATOR_HOST: harness.pubsubHost,
        STORAGE_EMULATOR_HOST: `http://${storage.endpoint}`,
        DOCKERFILE_CHANGED_TOPIC: topic,
        ...env,
      },
      timeoutMs: 60_000,
    });
  }

  /** `arr changed IMAGE --from FOLDER --no-wait`, as a user types it. */
  const changedFrom = (
    image: string,
    folder: string,
    env: Record<string, string> = {},
  ) => arr(env, 'changed', image, '--from', folder, '--no-wait');

  const published = (count: number) =>
    eventually(() => (received.length >= count ? [...received] : undefined), {
      timeoutMs: 15_000,
      waitingFor: `${count} dockerfile-changed message(s) on ${topic}`,
    });

  /** The entries of a .tar.gz as GNU tar lists them. */
  function tarEntries(bytes: Buffer): string[] {
    return execFileSync('tar', ['-tzf', '-'], {input: bytes})
      .toString('utf8')
      .split('\n')
      .filter(Boolean);
  }

  it('uploads exactly the digest entries to the object the message names, before publishing it', async () => {
    const folder = imageFolder();
    const listing = listContext(folder);
    const result = await changedFrom('arr-pytorch-base', folder);
    assert.strictEqual(result.code, 0, result.stderr);
    const [message] = await published(1);
    assert.strictEqual(message.contextDigest, listing.digest);
    const name = `contexts/arr-pytorch-base/${message.dockerfileHash}-${listing.digest}.tar.gz`;
    assert.strictEqual(message.source, `gs://${BUCKET}/${name}`);
    assert.match(
      result.stderr,
      new RegExp(
        `✓ Build context uploaded: gs://${BUCKET}/${name} \\(4 files, `,
      ),
    );

    const bytes = storage.readObject(BUCKET, name);
    assert.ok(bytes, `${name} was uploaded`);
    assert.deepStrictEqual(
      tarEntries(bytes),
      listing.entries.map(e => e.path),
    );
    assert.ok(!tarEntries(bytes).includes('NOTES.md'));
    // Unpacked, it is the same context: the same digest.
    const unpacked = path.join(dir, 'unpacked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', '-', '-C', unpacked], {input: bytes});
    assert.strictEqual(listContext(unpacked).digest, listing.digest);
  });

  it('a second upload of the same context keeps the object (same generation) and still publishes', async () => {
    const folder = imageFolder();
    const first = await changedFrom('arr-pytorch-base', folder);
    assert.strictEqual(first.code, 0, first.stderr);
    const [message] = await published(1);
    const name = message.source.slice(`gs://${BUCKET}/`.length);
    const generation = storage.store.get(BUCKET, name).generation;

    const second = await changedFrom('arr-pytorch-base', folder);
    assert.strictEqual(second.code, 0, second.stderr);
    assert.match(
      second.stderr,
      /✓ Build context already uploaded: gs:\/\/.*\(same name, same content\)/,
    );
    const both = await published(2);
    assert.strictEqual(both[1].source, message.source);
    assert.strictEqual(storage.store.get(BUCKET, name).generation, generation);
    assert.strictEqual(storage.calls.count('objects.insert'), 2);
    assert.deepStrictEqual(
      storage.calls.requests('objects.insert').map(q => q.ifGenerationMatch),
      ['0', '0'],
    );
  });

  it('an image keyed on its Dockerfile alone: its context goes to <hash>.tar.gz, .dockerignore applied', async () => {
    const folder = imageFolder();
    const result = await changedFrom('arr-vertex-launcher', folder);
    assert.strictEqual(result.code, 0, result.stderr);
    const [message] = await published(1);
    assert.strictEqual(message.contextDigest, undefined);
    const name = `contexts/arr-vertex-launcher/${message.dockerfileHash}.tar.gz`;
    assert.strictEqual(message.source, `gs://${BUCKET}/${name}`);
    assert.deepStrictEqual(
      tarEntries(storage.readObject(BUCKET, name)!),
      listContext(folder).entries.map(e => e.path),
    );
  });

  it('a bucket that does not exist: a clear error, exit 5, and nothing published', async () => {
    const folder = imageFolder();
    const result = await changedFrom('arr-pytorch-base', folder, {
      CONTEXTS_BUCKET: 'arr-no-such-contexts-bucket',
    });
    assert.strictEqual(result.code, 5, result.stderr);
    assert.match(
      result.stderr,
      /bucket gs:\/\/arr-no-such-contexts-bucket does not exist/,
    );
    assert.match(result.stderr, /CONTEXTS_BUCKET/);
    assert.match(result.stderr, /Nothing was published/);
    await assertNothingPublishedBefore(folder);
  });

  it('a refused permission: says which role to ask for, exit 5, and nothing published', async () => {
    const folder = imageFolder();
    storage.faults.failOnce('objects.insert', {
      code: grpc.status.PERMISSION_DENIED,
      message:
        'engineer@example.com does not have storage.objects.create access to the Google Cloud Storage object.',
    });
    const result = await changedFrom('arr-pytorch-base', folder);
    assert.strictEqual(result.code, 5, result.stderr);
    assert.match(result.stderr, /permission denied/);
    assert.match(result.stderr, /roles\/storage\.objectCreator on the bucket/);
    assert.match(result.stderr, /Nothing was published/);
    assert.strictEqual(storage.store.list(BUCKET).length, 0);
    await assertNothingPublishedBefore(folder);
  });

  /**
   * Publishes one message that must arrive, and then checks it is the only one: a message
   * the failed command had published would have come first.
   */
  async function assertNothingPublishedBefore(folder: string): Promise<void> {
    const marker = await changedFrom('arr-vertex-launcher', folder);
    assert.strictEqual(marker.code, 0, marker.stderr);
    await published(1);
    await new Promise(resolve => setTimeout(resolve, 300));
    assert.deepStrictEqual(
      received.map(m => m.image),
      ['arr-vertex-launcher'],
    );
  }
});
