/**
 * The operator's checklist (README "Walkthrough"), end to end: the local stack (its own
 * emulators, the stand-ins, the four functions behind push subscriptions) driven
 * through the `arr` CLI as spawned processes, the way an operator types it.
 * `arr` finds the stack through a state file, as it does after `npm start`.
 */
import * as assert from 'assert';
import {Timestamp} from '@google-cloud/firestore';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Context} from 'mocha';
import {stopAtFirstFailure} from '../support/sequential-steps';
import {contentFromFolder} from '../../cli/from-folder';
import {cacheKey} from '../../shared/cache-key';
import {imageCatalog} from '../../shared/catalog';
import {ExitCode} from '../../cli/errors';
import type {PublishView, RunsView, StatusView} from '../../cli/views';
import {buildDurationsFor, type LocalStack} from '../../local/stack';
import {emulatorFirestore} from '../../bench/stack-driver';
import {
  ArrOnStack,
  repositoryIn as repository,
  startArrOnStack,
} from '../support/arr-on-stack';

const PERSISTENT = 'arr-coc-registry-persistent';
const EPHEMERAL = 'arr-coc-registry';
const BASE_HASH = 'abcdefabcdef';

/**
 * A checkout of the training repository, as the Dockerfile trigger sees one: each
 * catalog image's folder with its Dockerfile and the files it copies.
 */
function makeCheckout(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-checklist-'));
  for (const image of imageCatalog().images) {
    fs.mkdirSync(path.join(root, image.context), {recursive: true});
    fs.writeFileSync(
      path.join(root, image.dockerfile),
      `FROM ${image.parent ?? 'nvidia/cuda:12.4.1-devel-ubuntu22.04'}\nCOPY . /src\n`,
    );
    fs.writeFileSync(
      path.join(root, image.context, 'requirements.txt'),
      `# ${image.name}\ntorch==2.4.0\n`,
    );
    fs.writeFileSync(path.join(root, image.context, '.dockerignore'), '*.md\n');
  }
  return root;
}

/** The key `arr changed --from` leads to for an image without a parent. */
function rootKey(checkout: string, image: string): string {
  return cacheKey(contentFromFolder(imageCatalog().get(image)!, checkout));
}

describe("the operator's checklist, end to end through arr over the local stack", function () {
  this.timeout(120_000);
  let driver: ArrOnStack;
  let stack: LocalStack;

  let checkout: string;
  let baseKey: string;

  before(async function (this: Context) {
    this.timeout(180_000);
    checkout = makeCheckout();
    baseKey = rootKey(checkout, 'arr-pytorch-base');
    driver = await startArrOnStack('arr-checklist');
    stack = driver.stack;
  });

  after(async function (this: Context) {
    this.timeout(60_000);
    await driver?.stop();
    fs.rmSync(checkout, {recursive: true, force: true});
  });

  stopAtFirstFailure(() => driver.dumpFunctionLogs());

  const arr = (...args: string[]) => driver.arr(...args);
  const arrOk = (...args: string[]) => driver.arrOk(...args);
  const status = () => driver.status();
  const createdBuilds = () => driver.createdBuilds();

  function tagsOf(view: StatusView, repositoryId: string, image: string) {
    return repository(view, repositoryId)
      .images.filter(i => i.image === image)
      .flatMap(i => i.tags)
      .sort();
  }

  it('1. setup creates both repositories: DOCKER, in the region, labelled with their lifecycle', async () => {
    const out = await arrOk('setup');
    assert.match(
      out,
      /✓ Persistent repository created: arr-coc-registry-persistent/,
    );
    assert.match(out, /✓ Ephemeral repository created: arr-coc-registry\n/);
    assert.match(out, /⚡ Persistent repository passed — Roger!/);
    assert.match(out, /✓ Succeeded: Both repositories ready/);

    const view = await status();
    for (const [id, tier] of [
      [PERSISTENT, 'persistent'],
      [EPHEMERAL, 'ephemeral'],
    ] as const) {
      const r = repository(view, id);
      assert.strictEqual(r.exists, true, id);
      assert.strictEqual(r.state, 'present', id);
      assert.strictEqual(r.tier, tier);
      assert.strictEqual(r.format, 'DOCKER', id);
      assert.strictEqual(r.location, 'us-central1', id);
      assert.strictEqual(r.labels['arr-lifecycle'], tier, id);
    }
  });

  it('2. a new base image is built once, into the persistent repository only; its dependents after it, into the ephemeral one', async () => {
    // The Dockerfile trigger publishes every image; the dependents wait for the base.
    assert.match(
      await arrOk('changed', 'arr-ml-stack', '--from', checkout),
      /Waiting for arr-pytorch-base/,
    );
    assert.match(
      await arrOk('changed', 'arr-trainer', '--from', checkout),
      /Waiting for arr-ml-stack/,
    );
    assert.deepStrictEqual(createdBuilds(), []);

    const from = await arr('changed', 'arr-pytorch-base', '--from', checkout);
    assert.strictEqual(from.code, 0, from.stderr);
    assert.match(
      from.stderr,
      /arr-pytorch-base: Dockerfile [0-9a-f]{12} \(.*\) \+ context [0-9a-f]{12} \(.*: 3 files\)/,
    );
    const out = from.stdout;
    assert.match(
      out,
      new RegExp(`✓ Build arr-pytorch-base:${baseKey} succeeded`),
    );
    assert.match(out, /\[arr-ml-stack\] ⊕ Building arr-ml-stack:/);
    assert.match(out, /\[arr-trainer\] ⊕ Building arr-trainer:/);
    assert.match(out, /✓ 3 builds succeeded/);

    assert.deepStrictEqual(createdBuilds(), [
      'arr-pytorch-base',
      'arr-ml-stack',
      'arr-trainer',
    ]);
    const view = await status();
    assert.deepStrictEqual(tagsOf(view, PERSISTENT, 'arr-pytorch-base'), [
      baseKey,
      'latest',
    ]);
    assert.deepStrictEqual(tagsOf(view, EPHEMERAL, 'arr-pytorch-base'), []);
    assert.deepStrictEqual(
      repository(view, PERSISTENT).images.map(i => i.image),
      ['arr-pytorch-base'],
    );
    assert.deepStrictEqual(
      repository(view, EPHEMERAL).images.map(i => i.image),
      ['arr-ml-stack', 'arr-trainer'],
    );
    for (const image of ['arr-ml-stack', 'arr-trainer']) {
      assert.ok(tagsOf(view, EPHEMERAL, image).includes('latest'), image);
    }

    // In order: each dependent's build started after its parent's finished.
    const build = (image: string) => {
      const found = view.builds.find(b => b.image === image);
      assert.ok(found?.startTime && found.finishTime, `build of ${image}`);
      return found as {startTime: string; finishTime: string};
    };
    assert.ok(
      build('arr-pytorch-base').finishTime <= build('arr-ml-stack').startTime,
    );
    assert.ok(
      build('arr-ml-stack').finishTime <= build('arr-trainer').startTime,
    );

    const base = view.images.find(i => i.image === 'arr-pytorch-base');
    assert.strictEqual(base?.present, true);
    assert.strictEqual(base?.key, baseKey);
    assert.strictEqual(base?.repository, PERSISTENT);

    // In text, each repository's images sit right under its own row.
    const text = await arrOk('status');
    const section = text.slice(
      text.indexOf('Repositories\n'),
      text.indexOf('\nImages\n'),
    );
    const lines = section.trim().split('\n').slice(1);
    const shape = lines.map(line =>
      /^ {2}\S/.test(line)
        ? `repository ${line.trim().split(/\s+/)[0]}`
        : `  image ${line.trim().split(':')[0]}`,
    );
    assert.deepStrictEqual(
      shape,
      [
        `repository ${PERSISTENT}`,
        `  image ${PERSISTENT}/arr-pytorch-base`,
        `repository ${EPHEMERAL}`,
        `  image ${EPHEMERAL}/arr-ml-stack`,
        `  image ${EPHEMERAL}/arr-trainer`,
      ],
      section,
    );
  });

  it('3. teardown deletes the ephemeral repository only, and its report names what it preserved', async () => {
    const dry = await arrOk('teardown');
    assert.match(
      dry,
      /Would delete: arr-coc-registry \(images: arr-ml-stack, arr-trainer/,
    );
    assert.match(
      dry,
      /Would preserve: arr-coc-registry-persistent \(arr-pytorch-base/,
    );
    assert.strictEqual(
      stack.standIns.artifactRegistry.calls.count('DeleteRepository'),
      0,
    );

    const out = await arrOk('teardown', '--confirm', EPHEMERAL);
    assert.match(
      out,
      /✓ Deleted: arr-coc-registry \(images: arr-ml-stack, arr-trainer/,
    );
    assert.match(
      out,
      /Preserved: arr-coc-registry-persistent \(arr-pytorch-base, [\d.]+ [kMG]?B\) — prevents a 2–4 hour rebuild/,
    );
    const deletes =
      stack.standIns.artifactRegistry.calls.requests('DeleteRepository');
    assert.deepStrictEqual(
      deletes.map(r => r.name),
      [
        `projects/arr-checklist/locations/us-central1/repositories/${EPHEMERAL}`,
      ],
    );

    const view = await status();
    assert.strictEqual(repository(view, EPHEMERAL).exists, false);
    assert.strictEqual(repository(view, EPHEMERAL).state, 'deleted');
    assert.strictEqual(repository(view, PERSISTENT).exists, true);
    assert.deepStrictEqual(tagsOf(view, PERSISTENT, 'arr-pytorch-base'), [
      baseKey,
      'latest',
    ]);
  });

  it('4. setup again brings the ephemeral repository back, and its reconcile rebuilds the ephemeral images', async () => {
    const out = await arrOk('setup');
    assert.match(
      out,
      /✓ Persistent repository exists: arr-coc-registry-persistent/,
    );
    assert.match(out, /✓ Ephemeral repository created: arr-coc-registry\n/);
    assert.match(out, /→ Rebuilding arr-ml-stack: not in arr-coc-registry/);

    const view = await status();
    const ephemeral = repository(view, EPHEMERAL);
    assert.strictEqual(ephemeral.exists, true);
    assert.strictEqual(ephemeral.labels['arr-lifecycle'], 'ephemeral');
    assert.deepStrictEqual(
      [...new Set(ephemeral.images.map(i => i.image))],
      ['arr-ml-stack', 'arr-trainer'],
    );
    for (const image of ['arr-ml-stack', 'arr-trainer']) {
      assert.strictEqual(
        view.images.find(i => i.image === image)?.present,
        true,
        image,
      );
    }
    assert.strictEqual(
      createdBuilds().filter(image => image === 'arr-pytorch-base').length,
      1,
    );
  });

  it('5. the same base hash again is a cache hit: the base was built exactly once in the whole cycle', async () => {
    const out = await arrOk('changed', 'arr-pytorch-base', '--from', checkout);
    assert.match(
      out,
      new RegExp(
        `✓ Using cached arr-pytorch-base:${baseKey} \\(hash matches, no rebuild\\)`,
      ),
    );
    assert.deepStrictEqual(
      createdBuilds().filter(image => image === 'arr-pytorch-base'),
      ['arr-pytorch-base'],
    );
  });

  it('the manual migration: a base pushed by hand with its hash tag is adopted by the next arr changed, without a build', async () => {
    const hash = 'feedfacecafe';
    const contextDigest = 'c0c0c0c0c0c0';
    // The base is keyed on its build context: the copy is tagged with its cache key.
    const migrated = cacheKey({dockerfileHash: hash, contextDigest});
    // What `docker tag` + `docker push` of the old image leaves in the registry.
    await stack.standIns.artifactRegistry.seedImage(
      `projects/arr-checklist/locations/us-central1/repositories/${PERSISTENT}`,
      'arr-pytorch-base',
      [migrated],
    );
    const out = await arrOk(
      'changed',
      'arr-pytorch-base',
      '--hash',
      hash,
      '--context-digest',
      contextDigest,
    );
    assert.match(
      out,
      new RegExp(
        `✓ Adopted arr-pytorch-base:${migrated} \\(sha256:[0-9a-f]+\\): already in arr-coc-registry-persistent, pushed outside the control plane; no build`,
      ),
    );
    assert.deepStrictEqual(
      createdBuilds().filter(image => image === 'arr-pytorch-base'),
      ['arr-pytorch-base'],
    );
    const base = (await status()).images.find(
      i => i.image === 'arr-pytorch-base',
    );
    assert.strictEqual(base?.key, migrated);
    assert.strictEqual(base?.origin, 'adopted');
  });

  it('6. context keys: a bumped requirements.txt under an unchanged Dockerfile rebuilds the base and its dependents; a Dockerfile-keyed image ignores its other files', async () => {
    const base = imageCatalog().get('arr-pytorch-base')!;
    const before = createdBuilds().length;
    // Only a file the Dockerfile copies changes; the Dockerfile does not.
    fs.writeFileSync(
      path.join(checkout, base.context, 'requirements.txt'),
      '# arr-pytorch-base\ntorch==2.5.1\n',
    );
    fs.writeFileSync(path.join(checkout, base.context, 'NOTES.md'), 'ignored');
    const bumped = rootKey(checkout, 'arr-pytorch-base');
    assert.notStrictEqual(bumped, baseKey);
    const out = await arrOk('changed', 'arr-pytorch-base', '--from', checkout);
    assert.match(
      out,
      new RegExp(`✓ Build arr-pytorch-base:${bumped} succeeded`),
    );
    assert.match(
      out,
      /\[build arr-pytorch-base:[0-9a-f]{12}\] → Rebuilding arr-ml-stack/,
    );
    assert.deepStrictEqual(createdBuilds().slice(before), [
      'arr-pytorch-base',
      'arr-ml-stack',
      'arr-trainer',
    ]);

    // The launcher is keyed on its Dockerfile alone: its other files change no key.
    await arrOk('changed', 'arr-vertex-launcher', '--from', checkout);
    const launcherBuilds = createdBuilds().length;
    const launcher = imageCatalog().get('arr-vertex-launcher')!;
    fs.writeFileSync(
      path.join(checkout, launcher.context, 'requirements.txt'),
      'google-cloud-aiplatform==1.70.0\n',
    );
    const again = await arrOk(
      'changed',
      'arr-vertex-launcher',
      '--from',
      checkout,
    );
    assert.match(again, /✓ Using cached arr-vertex-launcher:/);
    assert.strictEqual(createdBuilds().length, launcherBuilds);

    // Touching mtimes changes nothing either.
    const old = new Date('2001-01-01T00:00:00Z');
    fs.utimesSync(
      path.join(checkout, base.context, 'requirements.txt'),
      old,
      old,
    );
    assert.match(
      await arrOk('changed', 'arr-pytorch-base', '--from', checkout),
      new RegExp(`✓ Using cached arr-pytorch-base:${bumped}`),
    );
  });

  describe('and arr, around the checklist', () => {
    it('refuses bad input before publishing anything', async () => {
      const before = (JSON.parse(await arrOk('runs', '--json')) as RunsView)
        .runs.length;
      for (const args of [
        ['changed', 'arr-pytorch', '--hash', BASE_HASH],
        ['changed', 'arr-pytorch-base', '--hash', BASE_HASH], // no context digest
        ['changed', 'arr-trainer', '--hash', 'ABCDEF'],
        ['teardown', '--confirm', PERSISTENT],
        ['setup', '--force'],
      ]) {
        const result = await arr(...args);
        assert.strictEqual(result.code, ExitCode.Usage, args.join(' '));
        assert.notStrictEqual(result.stderr, '');
      }
      const after = (JSON.parse(await arrOk('runs', '--json')) as RunsView).runs
        .length;
      assert.strictEqual(after, before);
    });

    it('arr runs <unknown id> exits 6 (not found), not 1 (a run failed)', async () => {
      const result = await arr('runs', '999999999');
      assert.strictEqual(result.code, ExitCode.NotFound, result.stderr);
      assert.strictEqual(ExitCode.NotFound, 6);
      assert.match(result.stderr, /No run 999999999\./);
      const json = await arr('runs', '999999999', '--json');
      assert.strictEqual(json.code, ExitCode.NotFound, json.stderr);
    });

    it('run records expire 30 days after they begin; builds and the manifest are kept', async () => {
      const listed = (JSON.parse(await arrOk('runs', '--json')) as RunsView)
        .runs;
      assert.ok(listed.length > 5);
      for (const run of listed) {
        assert.strictEqual(
          run.expiresAt,
          new Date(Date.parse(run.startedAt) + 30 * 86_400_000).toISOString(),
          `run ${run.id}`,
        );
      }
      const firestore = emulatorFirestore(
        stack.endpoints.firestore,
        stack.projectId,
      );
      try {
        const runs = await firestore.collection('runs').get();
        assert.strictEqual(runs.size >= listed.length, true);
        for (const doc of runs.docs) {
          assert.ok(
            doc.get('expireAt') instanceof Timestamp,
            `runs/${doc.id} has a Timestamp expireAt (the TTL field)`,
          );
        }
        for (const collection of ['builds', 'images', 'repositories']) {
          const docs = (await firestore.collection(collection).get()).docs;
          assert.ok(docs.length > 0, collection);
          for (const doc of docs) {
            assert.strictEqual(
              doc.get('expireAt'),
              undefined,
              `${collection}/${doc.id}`,
            );
          }
        }
      } finally {
        await firestore.terminate();
      }
    });

    it('--no-wait prints the message id, which is the run id arr runs follows', async () => {
      const published = JSON.parse(
        await arrOk('setup', '--dry-run', '--no-wait', '--json'),
      ) as PublishView;
      assert.strictEqual(published.waited, false);
      assert.match(published.messageId, /^\S+$/);
      const followed = JSON.parse(
        await arrOk('runs', published.messageId, '--wait', '--json'),
      ) as PublishView;
      assert.strictEqual(followed.status, 'succeeded');
      assert.strictEqual(followed.runs[0].id, published.messageId);
      assert.strictEqual(followed.runs[0].dryRun, true);
    });

    it('exits 1 with the reason when a build it follows fails', async () => {
      stack.standIns.cloudBuild.forceNextTerminalStatus(
        'FAILURE',
        'step 3 exited 1',
      );
      const result = await arr(
        'changed',
        'arr-vertex-launcher',
        '--hash',
        '444444444444',
      );
      assert.strictEqual(result.code, ExitCode.Failed, result.stdout);
      assert.match(
        result.stdout,
        /✗ Build arr-vertex-launcher:444444444444 FAILURE: .*step 3 exited 1/,
      );
      assert.match(
        result.stdout,
        /✗ build arr-vertex-launcher:444444444444 did not succeed: FAILURE: .*step 3 exited 1/,
      );
    });

    it('while a build runs, arr status shows its step, the time so far and what the last build of the image took; arr following it says each step', async () => {
      // Three steps of 3 s: long enough to see one, as a 3 h build is.
      stack.standIns.cloudBuild.setBuildDurations({workingMs: 9_000});
      try {
        const following = arr(
          'changed',
          'arr-vertex-launcher',
          '--hash',
          '555555555555',
        );
        const label = 'arr-vertex-launcher:555555555555';
        let row: string | undefined;
        for (const deadline = Date.now() + 60_000; row === undefined;) {
          const text = await arrOk('status');
          row = text
            .split('\n')
            .find(line => line.includes(label) && / step \d\/3 /.test(line));
          if (row === undefined) {
            assert.ok(
              Date.now() < deadline,
              `no step line for ${label}:\n${text}`,
            );
            await new Promise(resolve => setTimeout(resolve, 200));
          }
        }
        // The earlier builds of arr-vertex-launcher took the stack's 0.3 s.
        assert.match(
          row,
          /^ {2}arr-vertex-launcher:555555555555 +WORKING +step [1-3]\/3 (build|push-key|move-latest) · \d+\.\d s of ~0\.\d s\b/,
        );
        const result = await following;
        assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        assert.match(
          result.stdout,
          /… Build arr-vertex-launcher:555555555555: step 1\/3 build · \d+\.\d s of ~0\.\d s/,
        );
        // Finished, it shows how long it took instead.
        const finished = (await status()).builds.find(
          b => b.id === 'arr-vertex-launcher@555555555555',
        );
        assert.strictEqual(finished?.status, 'SUCCESS');
        assert.strictEqual(finished?.progress, null);
      } finally {
        stack.standIns.cloudBuild.setBuildDurations(
          buildDurationsFor(stack.buildSeconds),
        );
      }
    });

    it('--json on a publishing command gives the runs and builds it led to', async () => {
      const view = JSON.parse(
        await arrOk(
          'changed',
          'arr-vertex-launcher',
          '--hash',
          '333333333333',
          '--json',
        ),
      ) as PublishView;
      assert.strictEqual(view.exitCode, 0);
      assert.strictEqual(view.topic, 'dockerfile-changed');
      assert.deepStrictEqual(
        view.builds.map(b => [b.image, b.status, b.repository]),
        [['arr-vertex-launcher', 'SUCCESS', EPHEMERAL]],
      );
      assert.ok(view.runs.some(r => r.kind === 'build-finished'));
    });
  });
});
