/**
 * Real images on the local stack, through `arr` as an operator types it: the example training
 * tree built on the Docker engine, pushed to the stack's registry, pulled by the digests
 * `arr status` shows; a teardown that removes what `docker pull` gets; a base pushed by hand and
 * adopted without a build; a key change that reuses the layers it did not change; a cleanup
 * that deletes real manifests and leaves every kept version pullable; and a real build whose
 * CreateBuild answer was lost, found and followed rather than started twice.
 * Needs dockerd (it fails, never skips, without one).
 */
import * as assert from 'node:assert/strict';
import {holdBuildCache} from '../support/take-turns';
import {execFile} from 'node:child_process';
import {grpc} from 'google-gax';
import {appendFileSync, cpSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {promisify} from 'node:util';
import type {Context} from 'mocha';
import {stopAtFirstFailure} from '../support/sequential-steps';
import type {StatusView} from '../../cli/views';
import {
  type DockerEngine,
  freshWorker,
  removeEngineImages,
} from '../../local/standins/docker-engine';
import {requireDockerEngine} from '../support/docker';
import {ArtifactRegistry} from '../../shared/artifact-registry';
import {createClients} from '../../shared/clients';
import {loadConfig} from '../../shared/config';
import {
  type ArrOnStack,
  repositoryIn,
  startArrOnStack,
} from '../support/arr-on-stack';

const run = promisify(execFile);
const EXAMPLES = resolve(__dirname, '..', '..', '..', 'examples');
const PERSISTENT = 'arr-coc-registry-persistent';
const EPHEMERAL = 'arr-coc-registry';
const BASE = 'arr-pytorch-base';

describe('real images on the local stack, end to end through arr', function () {
  this.timeout(180_000);
  let engine: DockerEngine;
  let driver: ArrOnStack;
  let checkout: string;
  let registry: string;
  let releaseBuildCache: (() => void) | undefined;

  before(async function (this: Context) {
    // Waiting for another suite's turn on the build cache counts too.
    this.timeout(600_000);
    engine = await requireDockerEngine();
    checkout = mkdtempSync(join(tmpdir(), 'arr-real-images-'));
    cpSync(EXAMPLES, checkout, {recursive: true});
    // Layers of its own: a line of this run in each script the Dockerfiles copy onto the root
    // image, so that no layer it builds is in the engine's cache from an earlier run or from
    // another suite (readme-output builds the example tree as it is, on the same engine). It
    // needs the cache to itself only where it empties it.
    for (const script of [
      'arr-pytorch-base/build-torch.sh',
      'arr-vertex-launcher/launch.sh',
    ]) {
      appendFileSync(
        join(checkout, 'training/images', script),
        `# real-images run ${process.pid}-${Date.now()}\n`,
      );
    }
    driver = await startArrOnStack('arr-real-images', {builds: 'real'});
    registry = driver.stack.env.REGISTRY_HOST;
    assert.match(
      registry,
      /^127\.0\.0\.1:\d+$/,
      'the stack names its loopback registry',
    );
  });
  after(async function (this: Context) {
    this.timeout(60_000);
    await driver?.stop();
    if (engine && registry) await removeEngineImages(engine, registry);
    rmSync(checkout, {recursive: true, force: true});
    releaseBuildCache?.();
  });
  stopAtFirstFailure(() => driver.dumpFunctionLogs());

  const docker = async (...args: string[]) => {
    try {
      const {stdout} = await run(engine.cli, args, {timeout: 120_000});
      return {code: 0, output: stdout};
    } catch (error) {
      const failed = error as {code?: number; stdout?: string; stderr?: string};
      return {
        code: failed.code ?? 1,
        output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`,
      };
    }
  };
  /**
   * Pulls from the registry: the engine first forgets every image of it, since it would
   * answer a pull by digest of a manifest it has seen from its own store.
   */
  const pull = async (reference: string) => {
    await removeEngineImages(engine, registry);
    return docker('pull', reference);
  };
  const status = (): Promise<StatusView> => driver.status();
  const imageOf = (view: StatusView, image: string) => {
    const found = view.images.find(i => i.image === image);
    assert.ok(found, `no ${image} in arr status`);
    return found;
  };
  const reference = (repository: string, image: string, digest: string) =>
    `${registry}/${driver.stack.projectId}/${repository}/${image}@${digest}`;

  it('builds the example tree for real: every image arr status reports pulls by its digest', async () => {
    // Cold, as on a new Cloud Build worker: none of the registry's images in the engine, and
    // no layer of this tree in its cache (see before).
    await removeEngineImages(engine, registry);
    await driver.arrOk('setup');
    for (const image of [
      'arr-pytorch-base',
      'arr-ml-stack',
      'arr-trainer',
      'arr-vertex-launcher',
    ]) {
      await driver.arrOk('changed', image, '--from', checkout);
    }
    const view = await status();
    for (const build of view.builds) {
      assert.equal(build.layersCached, 0, JSON.stringify(build));
    }
    for (const image of view.images) {
      assert.equal(image.present, true, image.image);
      assert.ok(image.digest, image.image);
      const pulled = await pull(
        reference(image.repository, image.image, image.digest),
      );
      assert.equal(
        pulled.code,
        0,
        `docker pull ${image.image}@${image.digest}: ${pulled.output}`,
      );
    }
    // What the registry listing shows is what was pushed: real sizes, the same digests.
    const listed = repositoryIn(view, PERSISTENT).images.find(
      i => i.image === BASE,
    );
    assert.equal(listed?.digest, imageOf(view, BASE).digest);
    assert.ok(
      (listed?.sizeBytes ?? 0) > 1_000_000,
      'the base holds busybox: its real size',
    );
  });

  it('the trainer runs, and says it was built FROM the base digest the manifest records', async () => {
    const view = await status();
    const trainer = imageOf(view, 'arr-trainer');
    const mlStack = imageOf(view, 'arr-ml-stack');
    const base = imageOf(view, BASE);
    const ran = await docker(
      'run',
      '--rm',
      reference(EPHEMERAL, 'arr-trainer', trainer.digest!),
    );
    assert.equal(ran.code, 0, ran.output);
    assert.match(ran.output, /training on torch 2\.4\.0/);
    assert.ok(
      ran.output.includes(
        `arr-ml-stack FROM ${reference(PERSISTENT, BASE, base.digest!)}`,
      ),
      ran.output,
    );
    assert.ok(
      ran.output.includes(
        `arr-trainer FROM ${reference(EPHEMERAL, 'arr-ml-stack', mlStack.digest!)}`,
      ),
      ran.output,
    );
  });

  it('after a confirmed teardown the ephemeral images no longer pull and the base still does; setup rebuilds them for real', async () => {
    const before = await status();
    await driver.arrOk('teardown', '--confirm', EPHEMERAL);
    const trainer = imageOf(before, 'arr-trainer');
    const gone = await pull(
      reference(EPHEMERAL, 'arr-trainer', trainer.digest!),
    );
    assert.notEqual(gone.code, 0, gone.output);
    // By tag the registry itself must answer (by digest the engine may know the manifest).
    const byTag = await pull(
      `${registry}/${driver.stack.projectId}/${EPHEMERAL}/arr-trainer:latest`,
    );
    assert.notEqual(byTag.code, 0, byTag.output);
    assert.match(byTag.output, /manifest unknown|name unknown/);
    const base = imageOf(before, BASE);
    assert.equal(
      (await pull(reference(PERSISTENT, BASE, base.digest!))).code,
      0,
    );

    await driver.arrOk('setup');
    const after = await status();
    for (const image of [
      'arr-ml-stack',
      'arr-trainer',
      'arr-vertex-launcher',
    ]) {
      const rebuilt = imageOf(after, image);
      assert.equal(rebuilt.present, true, image);
      const pulled = await pull(reference(EPHEMERAL, image, rebuilt.digest!));
      assert.equal(pulled.code, 0, `${image}: ${pulled.output}`);
    }
    assert.equal(
      imageOf(after, BASE).digest,
      base.digest,
      'the base was not rebuilt',
    );
  });

  it('a change below the expensive layer rebuilds only what follows it; --force rebuilds everything', async function (this: Context) {
    // Waiting for another suite's turn on the build cache counts too.
    this.timeout(600_000);
    releaseBuildCache = await holdBuildCache();
    const layersOf = async (digest: string) => {
      const ref = reference(PERSISTENT, BASE, digest);
      assert.equal((await pull(ref)).code, 0);
      const inspected = await docker(
        'image',
        'inspect',
        '--format',
        '{{json .RootFS.Layers}}',
        ref,
      );
      return JSON.parse(inspected.output) as string[];
    };
    const first = imageOf(await status(), BASE);
    const firstLayers = await layersOf(first.digest!);
    // requirements.txt is copied after build-torch.sh has run (the expensive layer).
    appendFileSync(
      join(checkout, 'training/images', BASE, 'requirements.txt'),
      'einops==0.8.0\n',
    );
    // The layers come from the registry's cache, not the engine's: a new worker has none.
    await freshWorker(engine, registry);
    const out = await driver.arrOk('changed', BASE, '--from', checkout);
    const second = imageOf(await status(), BASE);
    assert.notEqual(second.key, first.key);
    const secondLayers = await layersOf(second.digest!);
    // The root filesystem and the expensive layer are the same layers; what follows is new.
    assert.deepEqual(secondLayers.slice(0, 3), firstLayers.slice(0, 3));
    assert.notDeepEqual(secondLayers.slice(3), firstLayers.slice(3));
    assert.match(out, /layers? from the cache/);
    const record = (await status()).builds.find(
      b => b.image === BASE && b.key === second.key,
    );
    assert.ok((record?.layersCached ?? 0) >= 2, JSON.stringify(record));
    const ran = await docker(
      'run',
      '--rm',
      reference(PERSISTENT, BASE, second.digest!),
      'cat',
      '/opt/arr/requirements.txt',
    );
    assert.match(ran.output, /einops==0\.8\.0/);

    const forced = await driver.arrOk(
      'changed',
      BASE,
      '--from',
      checkout,
      '--force',
    );
    assert.match(forced, /no layer cache/);
    const rebuilt = (await status()).builds.find(
      b => b.image === BASE && b.key === second.key,
    );
    assert.equal(rebuilt?.layersCached, 0, JSON.stringify(rebuilt));
    releaseBuildCache();
    releaseBuildCache = undefined;
  });

  it('a base pushed by hand with docker push under its key tag is adopted with no build', async () => {
    const view = await status();
    const base = imageOf(view, BASE);
    // The manual migration: pull the old image, tag it with the key of the tree it came from.
    appendFileSync(
      join(checkout, 'training/images', BASE, 'requirements.txt'),
      'pandas==2.2.2\n',
    );
    const key = (await driver.arrOk('key', BASE, '--from', checkout)).trim();
    const target = `${registry}/${driver.stack.projectId}/${PERSISTENT}/${BASE}`;
    assert.equal(
      (await pull(reference(PERSISTENT, BASE, base.digest!))).code,
      0,
    );
    assert.equal(
      (
        await docker(
          'tag',
          reference(PERSISTENT, BASE, base.digest!),
          `${target}:${key}`,
        )
      ).code,
      0,
    );
    const pushed = await docker('push', `${target}:${key}`);
    assert.equal(pushed.code, 0, pushed.output);
    const builds = driver.createdBuilds().length;

    const adopted = await driver.arrOk('changed', BASE, '--from', checkout);
    assert.match(adopted, /adopt/i);
    assert.ok(
      !driver.createdBuilds().slice(builds).includes(BASE),
      'no build of the base was started',
    );
    const after = imageOf(await status(), BASE);
    assert.equal(after.key, key);
    assert.equal(
      after.digest,
      base.digest,
      'the hand-pushed image is the one recorded',
    );
  });

  it('cleanup after a real build deletes real manifests, and every version it keeps still pulls', async () => {
    const config = loadConfig(driver.stack.env);
    const artifactRegistry = new ArtifactRegistry(
      createClients(config).artifactRegistry,
      config,
    );
    const versions = async () =>
      (await artifactRegistry.listVersions(EPHEMERAL, 'arr-trainer')).map(
        v => v.digest,
      );
    const recent = await versions();
    const ephemeral = {
      projectId: driver.stack.projectId,
      location: driver.stack.region,
      repositoryId: EPHEMERAL,
    };
    // Older than the grace period, each under a key of its own, pushed to the registry for real.
    const old: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const seeded = await driver.stack.standIns.artifactRegistry.seedImage(
        ephemeral,
        'arr-trainer',
        [`0${i}0${i}0${i}0${i}0${i}0${i}`],
        {uploadTime: new Date(Date.now() - (1 + i) * 3_600_000)},
      );
      old.push(seeded.digest);
    }
    // The policy keeps the two previous keys: the recent builds first, then the newest old ones.
    const keptOld = old.slice(0, Math.max(0, 2 - recent.length));
    const deletedOld = old.slice(keptOld.length);
    assert.ok(deletedOld.length > 0, 'something old to delete');

    appendFileSync(
      join(checkout, 'training/images/arr-trainer/train.sh'),
      'echo cleanup\n',
    );
    const out = await driver.arrOk(
      'changed',
      'arr-trainer',
      '--from',
      checkout,
    );
    assert.match(
      out,
      new RegExp(`Cleanup arr-trainer: delete ${deletedOld.length} version`),
    );
    const current = imageOf(await status(), 'arr-trainer');

    const expectedKept = [current.digest!, ...recent, ...keptOld];
    assert.deepEqual((await versions()).sort(), [...expectedKept].sort());
    for (const digest of deletedOld) {
      const gone = await pull(reference(EPHEMERAL, 'arr-trainer', digest));
      assert.notEqual(gone.code, 0, `${digest} was deleted: ${gone.output}`);
      assert.match(gone.output, /manifest unknown|not found/);
    }
    for (const digest of expectedKept) {
      const kept = await pull(reference(EPHEMERAL, 'arr-trainer', digest));
      assert.equal(kept.code, 0, `${digest} was kept: ${kept.output}`);
    }
  });

  it('a CreateBuild whose answer is lost starts one real build, which the control plane finds and follows instead of starting another', async () => {
    const cloudBuild = driver.stack.standIns.cloudBuild;
    // Its key covers the Dockerfile alone: change both.
    const folder = join(checkout, 'training/images/arr-vertex-launcher');
    appendFileSync(join(folder, 'launch.sh'), 'echo lost-answer\n');
    appendFileSync(
      join(folder, 'Dockerfile'),
      '# rebuilt with a lost answer\n',
    );
    const before = cloudBuild.buildIds().length;
    // The build starts; the answer saying so never reaches the caller.
    cloudBuild.faults.failOnce('CreateBuild', {
      code: grpc.status.UNAVAILABLE,
      answerLost: true,
    });
    await driver.arrOk('changed', 'arr-vertex-launcher', '--from', checkout);
    assert.strictEqual(cloudBuild.faults.fired('CreateBuild').answerLost, 1);
    const started = cloudBuild.buildIds().slice(before);
    assert.strictEqual(started.length, 1, 'one build ran');
    assert.strictEqual(cloudBuild.buildStatus(started[0]), 'SUCCESS');
    const built = cloudBuild.buildJson(started[0]) as {
      results?: {images?: Array<{digest?: string}>};
    };
    const launcher = imageOf(await status(), 'arr-vertex-launcher');
    assert.strictEqual(launcher.digest, built.results?.images?.[0]?.digest);
    const pulled = await pull(
      reference(EPHEMERAL, 'arr-vertex-launcher', launcher.digest!),
    );
    assert.equal(pulled.code, 0, pulled.output);
    const ran = await docker(
      'run',
      '--rm',
      reference(EPHEMERAL, 'arr-vertex-launcher', launcher.digest!),
    );
    assert.match(ran.output, /lost-answer/);
  });
});
