/**
 * Context keys on the checked-in catalog (the base, ml-stack and trainer keyed on their
 * build context; the launcher on its Dockerfile alone), and the savings counters the
 * decisions leave behind.
 */
import * as assert from 'assert';
import {createHash} from 'node:crypto';
import {dockerfileChangedHandler} from '../../functions/dockerfile-changed/handler';
import {readBuildRecord} from '../../shared/build-records';
import {DEFAULT_BUILD_MINUTE_RATES_USD} from '../../shared/build-rates';
import {cacheKey} from '../../shared/cache-key';
import {imageCatalog} from '../../shared/catalog';
import {handleDelivery} from '../../shared/handle-delivery';
import {readManifestEntry} from '../../shared/manifest';
import {readRun, RunRecord} from '../../shared/runs';
import {readSavings, savingsCounters} from '../../shared/savings';
import {
  pubSubEvent,
  TestControlPlane,
  eachTestPlaneAndInbox,
  runToQuiet,
} from '../support/control-plane';
import type {Inbox} from '../support/inbox';

const DOCKERFILE = {
  'arr-pytorch-base': 'ba5e00000001',
  'arr-ml-stack': '111111111111',
  'arr-trainer': '222222222222',
  'arr-vertex-launcher': '333333333333',
} as const;
type Image = keyof typeof DOCKERFILE;
const CONTEXT_A = 'c0c0c0c0000a';
const CONTEXT_B = 'c0c0c0c0000b';

describe('context keys and savings (the checked-in catalog)', () => {
  let plane: TestControlPlane;
  let inbox: Inbox;
  const handled = new Set<string>();

  eachTestPlaneAndInbox(
    {buildDurations: {queuedMs: 5, workingMs: 200}},
    (...made) => ([plane, inbox] = made),
  );

  const firestore = () => plane.context.clients.firestore();
  const texts = (run: RunRecord) => run.steps.map(s => s.text).join('\n');
  const builtImages = () =>
    plane.cloudBuild.calls
      .requests('CreateBuild')
      .map(
        r =>
          (r.build as {substitutions: {_IMAGE: string}}).substitutions._IMAGE,
      );

  async function changed(
    image: Image,
    extra: {contextDigest?: string; dockerfileHash?: string} = {},
  ): Promise<RunRecord> {
    const dockerfileHash = extra.dockerfileHash ?? DOCKERFILE[image];
    const event = pubSubEvent({
      image,
      dockerfileHash,
      ...(extra.contextDigest ? {contextDigest: extra.contextDigest} : {}),
      source: `gs://arr-test-contexts/contexts/${image}/${dockerfileHash}.tar.gz`,
    });
    await handleDelivery(event, dockerfileChangedHandler, plane.context);
    const run = await readRun(await firestore(), event.id);
    assert.ok(run);
    return run;
  }

  const quiet = () => runToQuiet(plane, inbox, handled);

  it('Dockerfile-keyed images keep exactly the keys they had before context keys existed', () => {
    const hash = '2c26b46b68ff';
    assert.strictEqual(cacheKey(hash), hash);
    assert.strictEqual(cacheKey({dockerfileHash: hash}), hash);
    const parentKeyed = (h: string, parent: string, key: string) =>
      createHash('sha256')
        .update(`${h}|${parent}@${key}`)
        .digest('hex')
        .slice(0, 12);
    // The README's walkthrough keys, from before context keys existed.
    assert.strictEqual(
      cacheKey('5d41402abc4b', {image: 'arr-pytorch-base', key: hash}),
      parentKeyed('5d41402abc4b', 'arr-pytorch-base', hash),
    );
    assert.strictEqual(
      cacheKey(
        {dockerfileHash: '5d41402abc4b'},
        {image: 'arr-pytorch-base', key: hash},
      ),
      parentKeyed('5d41402abc4b', 'arr-pytorch-base', hash),
    );
    // A context-keyed image's key covers both, and differs from either alone.
    const context = cacheKey({dockerfileHash: hash, contextDigest: CONTEXT_A});
    assert.strictEqual(
      context,
      createHash('sha256')
        .update(`${hash}+${CONTEXT_A}`)
        .digest('hex')
        .slice(0, 12),
    );
    assert.notStrictEqual(
      cacheKey({dockerfileHash: hash, contextDigest: CONTEXT_B}),
      context,
    );
    assert.strictEqual(
      cacheKey(
        {dockerfileHash: hash, contextDigest: CONTEXT_A},
        {image: 'p', key: '0123456789ab'},
      ),
      createHash('sha256')
        .update(`${hash}+${CONTEXT_A}|p@0123456789ab`)
        .digest('hex')
        .slice(0, 12),
    );
    assert.deepStrictEqual(
      imageCatalog().images.map(i => [i.name, i.keyCovers]),
      [
        ['arr-pytorch-base', 'context'],
        ['arr-ml-stack', 'context'],
        ['arr-trainer', 'context'],
        ['arr-vertex-launcher', 'dockerfile'],
      ],
    );
  });

  it('a context-keyed image without a context digest is refused, saying how to compute one; nothing is recorded', async () => {
    const run = await changed('arr-pytorch-base');
    assert.strictEqual(run.status, 'failed');
    assert.match(
      run.error ?? '',
      /arr-pytorch-base is keyed on its whole build context .* no contextDigest; compute it .* `arr changed arr-pytorch-base --from <folder>`/,
    );
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 0);
    assert.strictEqual(
      await readManifestEntry(await firestore(), 'arr-pytorch-base'),
      undefined,
    );
  });

  it('a changed context under the same Dockerfile rebuilds the image and its dependents; the same context is a cache hit', async () => {
    for (const image of ['arr-ml-stack', 'arr-trainer'] as const) {
      await changed(image, {contextDigest: CONTEXT_A});
    }
    const first = await changed('arr-pytorch-base', {contextDigest: CONTEXT_A});
    assert.strictEqual(first.status, 'succeeded', texts(first));
    const keyA = cacheKey({
      dockerfileHash: DOCKERFILE['arr-pytorch-base'],
      contextDigest: CONTEXT_A,
    });
    assert.match(
      texts(first),
      new RegExp(
        `arr-pytorch-base: Dockerfile ba5e00000001 \\+ context ${CONTEXT_A} → cache key ${keyA}`,
      ),
    );
    assert.deepStrictEqual(first.result, {
      kind: 'built',
      image: 'arr-pytorch-base',
      key: keyA,
      buildId: plane.cloudBuild.buildIds()[0],
    });
    await quiet();
    assert.deepStrictEqual(builtImages(), [
      'arr-pytorch-base',
      'arr-ml-stack',
      'arr-trainer',
    ]);

    const same = await changed('arr-pytorch-base', {contextDigest: CONTEXT_A});
    assert.match(
      texts(same),
      new RegExp(
        `✓ Using cached arr-pytorch-base:${keyA} \\(hash matches, no rebuild\\) — avoided a rebuild: built in [\\d.]+ s on E2_HIGHCPU_32 \\(~<?\\$0\\.\\d\\d\\), build `,
      ),
    );
    assert.strictEqual(same.result?.kind, 'cache-hit');
    assert.strictEqual(same.result?.reused?.machineType, 'E2_HIGHCPU_32');

    // requirements.txt bumped, Dockerfile unchanged: a new key, a build, the dependents after it.
    const bumped = await changed('arr-pytorch-base', {
      contextDigest: CONTEXT_B,
    });
    const keyB = cacheKey({
      dockerfileHash: DOCKERFILE['arr-pytorch-base'],
      contextDigest: CONTEXT_B,
    });
    assert.notStrictEqual(keyB, keyA);
    assert.match(
      texts(bumped),
      new RegExp(`⊕ Building arr-pytorch-base:${keyB}`),
    );
    await quiet();
    assert.deepStrictEqual(builtImages(), [
      'arr-pytorch-base',
      'arr-ml-stack',
      'arr-trainer',
      'arr-pytorch-base',
      'arr-ml-stack',
      'arr-trainer',
    ]);
    const trainer = await readManifestEntry(await firestore(), 'arr-trainer');
    assert.strictEqual(trainer?.contextDigest, CONTEXT_A);
    const base = await readManifestEntry(await firestore(), 'arr-pytorch-base');
    assert.strictEqual(base?.key, keyB);
    assert.strictEqual(base?.contextDigest, CONTEXT_B);
    assert.strictEqual(base?.machineType, 'E2_HIGHCPU_32');
    assert.ok((base?.buildSeconds ?? 0) > 0);
  });

  it('a Dockerfile-keyed image takes no context digest: another one changes nothing', async () => {
    const first = await changed('arr-vertex-launcher', {
      contextDigest: CONTEXT_A,
    });
    assert.match(
      texts(first),
      /contextDigest c0c0c0c0000a not used: the catalog keys arr-vertex-launcher on its Dockerfile alone/,
    );
    assert.match(texts(first), /⊕ Building arr-vertex-launcher:333333333333 /);
    await quiet();
    const again = await changed('arr-vertex-launcher', {
      contextDigest: CONTEXT_B,
    });
    assert.match(
      texts(again),
      /✓ Using cached arr-vertex-launcher:333333333333/,
    );
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 1);
    const entry = await readManifestEntry(
      await firestore(),
      'arr-vertex-launcher',
    );
    assert.strictEqual(entry?.contextDigest, undefined);
  });

  it('savings: requested, started, cache hits and duplicates absorbed, at the duration of the build they reused', async () => {
    await changed('arr-vertex-launcher');
    // Duplicates while it builds: absorbed, counted on the build record until it finishes.
    const duplicates = await Promise.all([
      changed('arr-vertex-launcher'),
      changed('arr-vertex-launcher'),
    ]);
    for (const run of duplicates)
      assert.strictEqual(run.result?.kind, 'joined');
    await quiet();
    const record = await readBuildRecord(
      await firestore(),
      'arr-vertex-launcher',
      DOCKERFILE['arr-vertex-launcher'],
    );
    assert.strictEqual(record?.joins, 2);
    assert.strictEqual(record?.machineType, 'E2_MEDIUM');
    await changed('arr-vertex-launcher');
    await changed('arr-vertex-launcher');

    const counters = (await savingsCounters(await firestore()).get()).data();
    assert.strictEqual(counters?.requested, 5);
    assert.strictEqual(counters?.started, 1);
    assert.strictEqual(counters?.cacheHits, 2);
    assert.strictEqual(counters?.joined, 2);
    assert.strictEqual(counters?.images?.['arr-vertex-launcher']?.requested, 5);

    const savings = await readSavings(
      await firestore(),
      {...DEFAULT_BUILD_MINUTE_RATES_USD, E2_MEDIUM: 60},
      image => imageCatalog().get(image)?.machineType,
    );
    const seconds =
      (Date.parse(record!.finishTime!) - Date.parse(record!.startTime!)) / 1000;
    assert.ok(seconds > 0);
    assert.strictEqual(savings.avoided, 4);
    assert.strictEqual(savings.duplicatesAbsorbed, 2);
    assert.ok(Math.abs(savings.buildSecondsAvoided - 4 * seconds) < 1e-6);
    // At the overridden $60 a minute: one dollar a second.
    assert.ok(Math.abs(savings.estimatedCostAvoidedUsd - 4 * seconds) < 1e-6);
    assert.deepStrictEqual(
      savings.byMachineType.map(m => [m.machineType, m.usdPerMinute]),
      [['E2_MEDIUM', 60]],
    );
    assert.strictEqual(savings.avoidedWithoutDuration, 0);
  });
});
