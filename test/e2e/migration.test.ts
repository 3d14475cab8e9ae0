/**
 * The first day in a real project, on the local stack: the old single repository
 * (`arr-coc-registry`, unlabelled, created before this control plane) holds the only copy
 * of the base image, pushed there by a plain Cloud Build. Nothing may cost that copy:
 * status warns, setup does not label it deletable, teardown refuses (naming the image and
 * the commands), and after the copy the same teardown goes through with the base intact.
 */
import {cacheKey} from '../../shared/cache-key';
import * as assert from 'assert';
import type {Context} from 'mocha';
import {stopAtFirstFailure} from '../support/sequential-steps';
import {ExitCode} from '../../cli/errors';
import {loadConfig} from '../../shared/config';
import {formatBytes} from '../../shared/format-bytes';
import {createClients, type Clients} from '../../shared/clients';
import {
  ArrOnStack,
  repositoryIn,
  startArrOnStack,
} from '../support/arr-on-stack';
import {eventually} from '../harness/wait';
import {
  docker,
  EngineImages,
  pushedDigest,
  requireDockerEngine,
} from '../support/docker';

const PROJECT = 'arr-migration';
const PERSISTENT = 'arr-coc-registry-persistent';
const EPHEMERAL = 'arr-coc-registry';
const OLD_BASE = `us-central1-docker.pkg.dev/${PROJECT}/${EPHEMERAL}/arr-pytorch-base`;
const HASH = 'feedfacecafe';
// The base is keyed on its build context: the copy is tagged with its cache key.
const CONTEXT_DIGEST = 'c0c0c0c0c0c0';
const KEY = cacheKey({dockerfileHash: HASH, contextDigest: CONTEXT_DIGEST});

describe('migration from the old single repository, end to end through arr', function () {
  this.timeout(120_000);
  let driver: ArrOnStack;
  let clients: Clients;
  let baseDigest: string;
  /** The base's size as teardown reports it. */
  let baseSize: string;
  const engine = new EngineImages();

  before(async function (this: Context) {
    this.timeout(180_000);
    driver = await startArrOnStack(PROJECT);
    clients = createClients(loadConfig(driver.stack.env));
  });
  after(async function (this: Context) {
    this.timeout(60_000);
    await engine.removeAll();
    await clients?.close();
    await driver?.stop();
  });
  stopAtFirstFailure(() => driver.dumpFunctionLogs());

  const deletes = () =>
    driver.stack.standIns.artifactRegistry.calls.count('DeleteRepository');
  const ephemeralLabels = async () => {
    const registry = await clients.artifactRegistry();
    const [repository] = await registry.getRepository({
      name: `projects/${PROJECT}/locations/us-central1/repositories/${EPHEMERAL}`,
    });
    return repository.labels ?? {};
  };

  it('the old world: an unlabelled repository made with the Artifact Registry client, the base pushed by a plain Cloud Build', async () => {
    const registry = await clients.artifactRegistry();
    const [operation] = await registry.createRepository({
      parent: `projects/${PROJECT}/locations/us-central1`,
      repositoryId: EPHEMERAL,
      repository: {format: 'DOCKER'},
    });
    await operation.promise();
    const cloudBuild = await clients.cloudBuild();
    await cloudBuild.createBuild({
      projectId: PROJECT,
      build: {
        steps: [
          {
            name: 'gcr.io/cloud-builders/docker',
            args: ['build', '-t', `${OLD_BASE}:latest`, '.'],
          },
        ],
        images: [`${OLD_BASE}:latest`],
      },
    });
    const [base] = await eventually(
      async () => {
        const images = repositoryIn(await driver.status(), EPHEMERAL).images;
        return images.length > 0 ? images : undefined;
      },
      {timeoutMs: 30_000, waitingFor: 'the old base image to be pushed'},
    );
    assert.strictEqual(base.image, 'arr-pytorch-base');
    assert.ok(base.sizeBytes > 0);
    baseDigest = base.digest;
    baseSize = formatBytes(base.sizeBytes);
  });

  it('arr status warns: the ephemeral repository holds the only copy of the base', async () => {
    const view = await driver.status();
    const ephemeral = repositoryIn(view, EPHEMERAL);
    assert.deepStrictEqual(
      ephemeral.onlyCopies.map(c => [c.image, c.digest]),
      [['arr-pytorch-base', baseDigest]],
    );
    assert.ok(
      ephemeral.warnings.some(w =>
        w.includes(`holds the only copy of arr-pytorch-base@${baseDigest}`),
      ),
      JSON.stringify(ephemeral.warnings),
    );
    const text = await driver.arrOk('status');
    assert.match(text, /arr-coc-registry +ephemeral +needs migration/);
  });

  it('arr setup creates the persistent repository and reports "needs migration" without labelling the old one', async () => {
    const out = await driver.arrOk('setup');
    assert.match(
      out,
      /✓ Persistent repository created: arr-coc-registry-persistent/,
    );
    assert.match(
      out,
      /arr-coc-registry holds the only copy of arr-pytorch-base@/,
    );
    assert.match(out, /Label arr-lifecycle is missing; not added/);
    assert.doesNotMatch(out, /added arr-lifecycle=ephemeral/);
    assert.deepStrictEqual(await ephemeralLabels(), {});
    assert.strictEqual(
      repositoryIn(await driver.status(), EPHEMERAL).state,
      'needs-migration',
    );
  });

  it('the teardown dry run and the nightly confirm are both refused, naming the image, its digest and size, and the copy commands', async () => {
    const dry = await driver.arr('teardown');
    assert.strictEqual(dry.code, ExitCode.Refused, dry.stdout);
    assert.match(
      dry.stdout,
      new RegExp(
        `holds the only copy of arr-pytorch-base@${baseDigest} \\(${baseSize}, tags: latest\\)`,
      ),
    );
    // The copy commands name the stack's own registry, where `docker pull` finds the image.
    const onStack = `${driver.stack.env.REGISTRY_HOST}/${PROJECT}/${EPHEMERAL}/arr-pytorch-base`;
    assert.match(dry.stdout, new RegExp(`SRC=${onStack}@${baseDigest}\n`));

    const confirmed = await driver.arr('teardown', '--confirm', EPHEMERAL);
    assert.strictEqual(confirmed.code, ExitCode.Refused, confirmed.stdout);
    assert.match(confirmed.stdout, /docker push \$DST:\$KEY/);
    assert.strictEqual(deletes(), 0);
    assert.strictEqual(
      repositoryIn(await driver.status(), EPHEMERAL).exists,
      true,
    );
  });

  it('after the copy, setup labels it, the adoption records the base without a build, and the same teardown deletes the old repository; the base is intact', async () => {
    // The copy as the refusal says to make it: `docker pull` by digest, `docker tag`, `docker push`.
    await requireDockerEngine();
    const host = driver.stack.standIns.registry.host;
    const source = `${host}/${PROJECT}/${EPHEMERAL}/arr-pytorch-base@${baseDigest}`;
    const pulled = await engine.pull(source);
    assert.strictEqual(pulled.code, 0, pulled.stderr);
    for (const tag of [KEY, 'latest']) {
      const copy = engine.track(
        `${host}/${PROJECT}/${PERSISTENT}/arr-pytorch-base:${tag}`,
      );
      await docker('tag', source, copy);
      assert.strictEqual(pushedDigest(await docker('push', copy)), baseDigest);
    }
    assert.deepStrictEqual(
      repositoryIn(await driver.status(), EPHEMERAL).onlyCopies,
      [],
    );

    const setup = await driver.arrOk('setup');
    assert.match(setup, /added arr-lifecycle=ephemeral/);
    assert.strictEqual((await ephemeralLabels())['arr-lifecycle'], 'ephemeral');

    const adopted = await driver.arrOk(
      'changed',
      'arr-pytorch-base',
      '--hash',
      HASH,
      '--context-digest',
      CONTEXT_DIGEST,
    );
    assert.match(adopted, new RegExp(`✓ Adopted arr-pytorch-base:${KEY}`));
    assert.ok(!driver.createdBuilds().includes('arr-pytorch-base'));

    const teardown = await driver.arrOk('teardown', '--confirm', EPHEMERAL);
    assert.match(teardown, /✓ Deleted: arr-coc-registry/);
    assert.strictEqual(deletes(), 1);

    const view = await driver.status();
    assert.strictEqual(repositoryIn(view, EPHEMERAL).exists, false);
    const base = repositoryIn(view, PERSISTENT).images.filter(
      i => i.image === 'arr-pytorch-base',
    );
    assert.deepStrictEqual(
      base.map(i => [i.digest, i.tags]),
      [[baseDigest, [KEY, 'latest']]],
    );
    const entry = view.images.find(i => i.image === 'arr-pytorch-base');
    assert.strictEqual(entry?.origin, 'adopted');
    assert.strictEqual(entry?.digest, baseDigest);
  });
});
