/**
 * The migration window: a repository from before this control plane (the ephemeral id)
 * holds the only copy of the base image. Teardown refuses to delete it, setup does not
 * label it deletable, and no build goes into a repository of another tier.
 */
import {cacheKey} from '../../shared/cache-key';
import * as assert from 'assert';
import {dockerfileChangedHandler} from '../../functions/dockerfile-changed/handler';
import {setupRequestedHandler} from '../../functions/setup-requested/handler';
import {teardownRequestedHandler} from '../../functions/teardown-requested/handler';
import {imageCatalog} from '../../shared/catalog';
import {createContext} from '../../shared/context';
import {formatBytes} from '../../shared/format-bytes';
import type {StoredImage} from '../../local/standins/artifact-store';
import {
  handleDelivery,
  type DeliveryHandler,
} from '../../shared/handle-delivery';
import {migrationCommands, strandedImages} from '../../shared/last-copy';
import {readRepositoryRecord} from '../../shared/repository-records';
import {readRun, RunRecord} from '../../shared/runs';
import {
  dockerfileKeyedCatalog,
  pubSubEvent,
  TestControlPlane,
  testControlPlane,
} from '../support/control-plane';
import {harness} from '../harness/harness';

const PROJECT = harness.projectId;
const LOCATION = {projectId: PROJECT, location: 'us-central1'};
const name = (id: string) =>
  `projects/${PROJECT}/locations/us-central1/repositories/${id}`;
const EPHEMERAL = 'arr-coc-registry';
const PERSISTENT = 'arr-coc-registry-persistent';
const GB = 1_000_000_000;
const BASE_DIGEST = `sha256:${'b'.repeat(64)}`;

const version = (image: string, digest: string, tags = ['latest']) => ({
  image,
  digest,
  tags,
  sizeBytes: 15 * GB,
});

describe('the last-copy rule', () => {
  const catalog = imageCatalog();

  it('flags a persistent-tier version the persistent repository lacks, and only that', () => {
    const stranded = strandedImages(
      catalog,
      [
        version('arr-pytorch-base', BASE_DIGEST),
        version('arr-ml-stack', `sha256:${'1'.repeat(64)}`),
        version('arr-pytorch-base-old', `sha256:${'2'.repeat(64)}`),
      ],
      [],
    );
    assert.deepStrictEqual(
      stranded.map(s => [s.image, s.digest]),
      [['arr-pytorch-base', BASE_DIGEST]],
    );
  });

  it('a copy counts only with the same image name and the same digest', () => {
    const ephemeral = [version('arr-pytorch-base', BASE_DIGEST)];
    const samePlace = [version('arr-pytorch-base', BASE_DIGEST, ['x'])];
    const otherDigest = [
      version('arr-pytorch-base', `sha256:${'c'.repeat(64)}`),
    ];
    const otherName = [version('arr-ml-stack', BASE_DIGEST)];
    assert.strictEqual(strandedImages(catalog, ephemeral, samePlace).length, 0);
    assert.strictEqual(
      strandedImages(catalog, ephemeral, otherDigest).length,
      1,
    );
    assert.strictEqual(strandedImages(catalog, ephemeral, otherName).length, 1);
  });

  it('the migration commands pull by digest, push :<hash> and :latest, then let dockerfile-changed adopt it', () => {
    const config = {
      projectId: 'p',
      registryHost: 'us-central1-docker.pkg.dev',
      persistentRepository: PERSISTENT,
      ephemeralRepository: EPHEMERAL,
    };
    const [stranded] = strandedImages(
      catalog,
      [version('arr-pytorch-base', BASE_DIGEST)],
      [],
    );
    // The checked-in base is keyed on its build context: tagged with its cache key,
    // which `arr key` computes from the checkout it was built from.
    const keyed = migrationCommands(stranded, config);
    assert.match(keyed[2], /^KEY=\$\(arr key arr-pytorch-base --from \.\)/);
    assert.deepStrictEqual(keyed.slice(3, 8), [
      'docker pull $SRC',
      'docker tag $SRC $DST:$KEY',
      'docker tag $SRC $DST:latest',
      'docker push $DST:$KEY',
      'docker push $DST:latest',
    ]);
    assert.match(keyed[8], /^arr changed arr-pytorch-base --from \./);

    // Keyed on the Dockerfile alone (the Dockerfile-only rule): tagged with the Dockerfile hash.
    const [dockerfileOnly] = strandedImages(
      dockerfileKeyedCatalog(),
      [version('arr-pytorch-base', BASE_DIGEST)],
      [],
    );
    const commands = migrationCommands(dockerfileOnly, config);
    assert.deepStrictEqual(commands.slice(0, 2), [
      `SRC=us-central1-docker.pkg.dev/p/${EPHEMERAL}/arr-pytorch-base@${BASE_DIGEST}`,
      `DST=us-central1-docker.pkg.dev/p/${PERSISTENT}/arr-pytorch-base`,
    ]);
    assert.match(
      commands[2],
      /^HASH=\$\(sha256sum training\/images\/arr-pytorch-base\/Dockerfile \| cut -c1-12\)/,
    );
    assert.deepStrictEqual(commands.slice(3, 8), [
      'docker pull $SRC',
      'docker tag $SRC $DST:$HASH',
      'docker tag $SRC $DST:latest',
      'docker push $DST:$HASH',
      'docker push $DST:latest',
    ]);
    assert.match(commands[8], /^arr changed arr-pytorch-base --hash \$HASH/);

    // A version already tagged with a hash keeps it: that is the key it was built for.
    const [tagged] = strandedImages(
      dockerfileKeyedCatalog(),
      [version('arr-pytorch-base', BASE_DIGEST, ['0123456789ab', 'latest'])],
      [],
    );
    assert.strictEqual(
      migrationCommands(tagged, config)[2],
      'HASH=0123456789ab',
    );
  });
});

describe('the migration window over the stand-ins', () => {
  let plane: TestControlPlane;

  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  async function handle<T>(
    handler: DeliveryHandler<T>,
    data: unknown,
    context = plane.context,
  ): Promise<RunRecord> {
    const event = pubSubEvent(data);
    await handleDelivery(event, handler, context);
    const run = await readRun(
      await plane.context.clients.firestore(),
      event.id,
    );
    assert.ok(run);
    return run;
  }
  const texts = (run: RunRecord) => run.steps.map(step => step.text).join('\n');
  const deletes = () => plane.artifactRegistry.calls.count('DeleteRepository');
  const repositoryIds = () =>
    plane.artifactRegistry.store
      .listRepositories(LOCATION)
      .map(r => r.repositoryId)
      .sort();

  /** The base's one content: the copy is the same image, so it has the same digest. */
  const BASE_CONTENT = 'arr-pytorch-base, pushed to the old single repository';

  /** The old world: the base's only copy in the repository teardown deletes. */
  async function seedOldWorld(
    ephemeralLabels: Record<string, string>,
  ): Promise<StoredImage> {
    plane.artifactRegistry.seedRepository(name(PERSISTENT), {
      labels: {'arr-lifecycle': 'persistent'},
    });
    plane.artifactRegistry.seedRepository(name(EPHEMERAL), {
      labels: ephemeralLabels,
    });
    return plane.artifactRegistry.seedImage(
      name(EPHEMERAL),
      'arr-pytorch-base',
      ['latest'],
      {content: BASE_CONTENT},
    );
  }
  /** What `docker push` of the pulled image leaves in the persistent repository. */
  async function copyBaseToPersistent(hash: string): Promise<void> {
    await plane.artifactRegistry.seedImage(
      name(PERSISTENT),
      'arr-pytorch-base',
      [hash, 'latest'],
      {content: BASE_CONTENT},
    );
  }

  it('a confirmed teardown is refused while the ephemeral repository holds the only copy; it names the image, digest, size and the commands', async () => {
    const base = await seedOldWorld({'arr-lifecycle': 'ephemeral'});
    const run = await handle(teardownRequestedHandler, {confirm: EPHEMERAL});
    assert.strictEqual(run.status, 'refused', texts(run));
    assert.strictEqual(deletes(), 0);
    assert.deepStrictEqual(repositoryIds(), [EPHEMERAL, PERSISTENT]);
    const text = texts(run);
    assert.ok(
      text.includes(
        `arr-coc-registry holds the only copy of arr-pytorch-base@${base.digest} (${formatBytes(base.sizeBytes)}, tags: latest)`,
      ),
      text,
    );
    assert.ok(
      text.includes(
        `SRC=us-central1-docker.pkg.dev/${PROJECT}/arr-coc-registry/arr-pytorch-base@${base.digest}\n`,
      ),
      text,
    );
    assert.ok(
      text.includes(
        `DST=us-central1-docker.pkg.dev/${PROJECT}/arr-coc-registry-persistent/arr-pytorch-base\n`,
      ),
      text,
    );
    assert.match(text, /docker push \$DST:\$KEY/);
    assert.match(
      run.error ?? '',
      /Teardown refused: .*only copy.*nothing deleted/,
    );
  });

  it('the dry run says it would refuse, with the same commands, and deletes nothing', async () => {
    await seedOldWorld({'arr-lifecycle': 'ephemeral'});
    const run = await handle(teardownRequestedHandler, {});
    assert.strictEqual(run.status, 'succeeded-with-warnings', texts(run));
    assert.doesNotMatch(texts(run), /Would delete:/);
    assert.match(texts(run), /Would refuse to delete arr-coc-registry/);
    assert.match(texts(run), /docker tag \$SRC \$DST:latest/);
    assert.match(run.outcome ?? '', /would refuse to delete arr-coc-registry/);
    assert.strictEqual(deletes(), 0);
  });

  it('an absent persistent repository counts as no copy at all', async () => {
    plane.artifactRegistry.seedRepository(name(EPHEMERAL), {
      labels: {'arr-lifecycle': 'ephemeral'},
    });
    await plane.artifactRegistry.seedImage(
      name(EPHEMERAL),
      'arr-pytorch-base',
      ['latest'],
    );
    const run = await handle(teardownRequestedHandler, {confirm: EPHEMERAL});
    assert.strictEqual(run.status, 'refused', texts(run));
    assert.strictEqual(deletes(), 0);
  });

  it('after the copy (same digest in the persistent repository) the same teardown goes through, the base intact', async () => {
    const seeded = await seedOldWorld({'arr-lifecycle': 'ephemeral'});
    await copyBaseToPersistent('0123456789ab');
    const run = await handle(teardownRequestedHandler, {confirm: EPHEMERAL});
    assert.strictEqual(run.status, 'succeeded', texts(run));
    assert.deepStrictEqual(repositoryIds(), [PERSISTENT]);
    const base = (
      await plane.artifactRegistry.store.listImages({
        ...LOCATION,
        repositoryId: PERSISTENT,
      })
    ).filter(i => i.image === 'arr-pytorch-base');
    assert.deepStrictEqual(
      base.map(i => i.digest),
      [seeded.digest],
    );
  });

  it('an unlabelled old repository: teardown refuses on the label and still names what it holds', async () => {
    await seedOldWorld({});
    const run = await handle(teardownRequestedHandler, {confirm: EPHEMERAL});
    assert.strictEqual(run.status, 'refused', texts(run));
    assert.match(texts(run), /holds the only copy of arr-pytorch-base@/);
    assert.match(run.error ?? '', /no arr-lifecycle label/);
    assert.strictEqual(deletes(), 0);
  });

  it('setup does not label a repository holding the only copy: it records needs-migration, and labels it once the copy is there', async () => {
    await seedOldWorld({});
    const first = await handle(setupRequestedHandler, {});
    assert.match(texts(first), /holds the only copy of arr-pytorch-base@/);
    assert.match(texts(first), /Label arr-lifecycle is missing; not added/);
    assert.doesNotMatch(texts(first), /added arr-lifecycle=ephemeral/);
    const unlabelled = plane.artifactRegistry.store
      .listRepositories(LOCATION)
      .find(r => r.repositoryId === EPHEMERAL);
    assert.deepStrictEqual(unlabelled?.labels, {});
    // Nor the tag that would let teardown's identity delete it (IAM): it stays persistent.
    const lifecycleTag = () =>
      plane.tagBindings
        .effectiveTags(`//artifactregistry.googleapis.com/${name(EPHEMERAL)}`)
        .map(t => t.namespacedTagValue);
    assert.deepStrictEqual(lifecycleTag(), [
      `${PROJECT}/arr-lifecycle/persistent`,
    ]);
    const firestore = await plane.context.clients.firestore();
    const record = await readRepositoryRecord(firestore, EPHEMERAL);
    assert.strictEqual(record?.state, 'needs-migration');
    assert.ok(
      record?.warnings.some(w => w.startsWith('Needs migration:')),
      JSON.stringify(record?.warnings),
    );

    await copyBaseToPersistent('0123456789ab');
    const second = await handle(setupRequestedHandler, {});
    assert.match(
      texts(second),
      /Label arr-lifecycle was missing on arr-coc-registry; added arr-lifecycle=ephemeral/,
    );
    assert.deepStrictEqual(lifecycleTag(), [
      `${PROJECT}/arr-lifecycle/ephemeral`,
    ]);
    const again = await readRepositoryRecord(firestore, EPHEMERAL);
    assert.strictEqual(again?.state, 'present');
    assert.deepStrictEqual(again?.warnings, []);
  });

  /** The base changed, handled with the repository names swapped in config. */
  function baseChangedWithSwappedNames(hash: string): Promise<RunRecord> {
    const swapped = createContext(
      {
        ...plane.config,
        persistentRepository: EPHEMERAL,
        ephemeralRepository: PERSISTENT,
      },
      {log: plane.context.log},
    );
    return handle(
      dockerfileChangedHandler,
      {
        image: 'arr-pytorch-base',
        dockerfileHash: hash,
        contextDigest: 'c0c0c0c0c0c0',
        source: `gs://${PROJECT}-arr-build-contexts/contexts/arr-pytorch-base/${hash}.tar.gz`,
      },
      swapped,
    );
  }

  it('with the repository names swapped in config, the base is not built into the ephemeral-labelled repository', async () => {
    await seedOldWorld({'arr-lifecycle': 'ephemeral'});
    const run = await baseChangedWithSwappedNames('ba5e00000001');
    assert.strictEqual(run.status, 'refused', texts(run));
    assert.match(
      run.error ?? '',
      /arr-pytorch-base is a persistent-tier image, but arr-coc-registry \(PERSISTENT_REPOSITORY\) is labelled arr-lifecycle=ephemeral/,
    );
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 0);
  });

  it('nor adopted from it: a tag found in a repository of another tier is not recorded', async () => {
    await seedOldWorld({'arr-lifecycle': 'ephemeral'});
    // Tagged with the key the message leads to (the base is keyed on its context).
    await plane.artifactRegistry.seedImage(
      name(EPHEMERAL),
      'arr-pytorch-base',
      [
        cacheKey({
          dockerfileHash: 'ba5e00000002',
          contextDigest: 'c0c0c0c0c0c0',
        }),
      ],
    );
    const run = await baseChangedWithSwappedNames('ba5e00000002');
    assert.strictEqual(run.status, 'refused', texts(run));
    assert.doesNotMatch(texts(run), /Adopted/);
  });
});
