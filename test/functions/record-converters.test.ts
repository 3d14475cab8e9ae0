/**
 * The Firestore converters of the records: a valid document reads back as written, one
 * without a field every writer sets fails loudly, naming it; and fields left undefined are
 * not written (the clients' `ignoreUndefinedProperties`).
 */
import * as assert from 'assert';
import {BUILDS, claimBuild, readBuildRecord} from '../../shared/build-records';
import {PermanentError} from '../../shared/errors';
import {readRun, RUNS} from '../../shared/runs';
import {TestControlPlane, testControlPlane} from '../support/control-plane';

describe('Firestore record converters', () => {
  let plane: TestControlPlane;
  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  it('reads a valid record back exactly as written, fields it does not check included', async () => {
    const firestore = await plane.context.clients.firestore();
    const written = {
      image: 'arr-trainer',
      key: 'abcabcabcabc',
      repository: 'arr-coc-registry',
      status: 'WORKING',
      buildId: 'b-1',
      history: [{at: '2026-01-01T00:00:00.000Z', status: 'QUEUED', attempt: 1}],
    };
    await firestore
      .collection(BUILDS)
      .doc('arr-trainer@abcabcabcabc')
      .set(written);
    assert.deepStrictEqual(
      await readBuildRecord(firestore, 'arr-trainer', 'abcabcabcabc'),
      written,
    );
    assert.strictEqual(
      await readBuildRecord(firestore, 'arr-trainer', '000000000000'),
      undefined,
    );
  });

  it('refuses a document without a field every writer sets, naming the document and the field', async () => {
    const firestore = await plane.context.clients.firestore();
    await firestore
      .collection(BUILDS)
      .doc('arr-trainer@abcabcabcabc')
      .set({image: 'arr-trainer', key: 'abcabcabcabc', status: 3});
    await assert.rejects(
      readBuildRecord(firestore, 'arr-trainer', 'abcabcabcabc'),
      (error: unknown) =>
        error instanceof PermanentError &&
        error.message.includes('builds/arr-trainer@abcabcabcabc') &&
        error.message.includes('status is a number, not a string'),
    );
    await firestore
      .collection(RUNS)
      .doc('42')
      .set({kind: 'setup', status: 'running'});
    await assert.rejects(
      readRun(firestore, '42'),
      /runs\/42 is not a valid record: its id is missing/,
    );
  });

  it('a claim writes no field it leaves undefined', async () => {
    const firestore = await plane.context.clients.firestore();
    const outcome = await claimBuild(firestore, {
      image: 'arr-trainer',
      key: 'abcabcabcabc',
      tier: 'ephemeral',
      repository: 'arr-coc-registry',
      dockerfileHash: 'abcabcabcabc',
      source: 'gs://bucket/object.tar.gz',
      runId: 'run-1',
      maxAttempts: 3,
      force: false,
      now: new Date(),
    });
    assert.strictEqual(outcome.kind, 'claimed');
    const raw = (
      await firestore.collection(BUILDS).doc('arr-trainer@abcabcabcabc').get()
    ).data();
    assert.ok(raw);
    for (const field of [
      'contextDigest',
      'parentKey',
      'machineType',
      'joins',
    ]) {
      assert.ok(!(field in raw), `${field} should not be written`);
    }
  });
});
