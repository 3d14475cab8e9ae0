/**
 * Run records are history: each expires RUN_RETENTION_DAYS after it begins (`expireAt`,
 * which the Firestore TTL policy deploy creates acts on). test/e2e/checklist.test.ts
 * checks the same over the wire, and that builds and the manifest have no expiry.
 */
import * as assert from 'assert';
import {Timestamp} from '@google-cloud/firestore';
import {setupRequestedHandler} from '../../functions/setup-requested/handler';
import {handleDelivery} from '../../shared/handle-delivery';
import {RUNS, readRun} from '../../shared/runs';
import {runSummaryView} from '../../cli/views';
import {
  pubSubEvent,
  TestControlPlane,
  testControlPlane,
} from '../support/control-plane';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('run records expire', () => {
  let plane: TestControlPlane | undefined;
  afterEach(async () => {
    await plane?.close();
    plane = undefined;
  });

  async function handledSetup(overrides: Record<string, string>) {
    plane = await testControlPlane(overrides);
    const event = pubSubEvent({requestedBy: 'ana', dryRun: true});
    await handleDelivery(event, setupRequestedHandler, plane.context);
    const firestore = await plane.context.clients.firestore();
    const run = await readRun(firestore, event.id);
    assert.ok(run, 'the run is recorded');
    return {run, firestore, id: event.id};
  }

  it('a run gets expireAt, a Firestore timestamp 30 days after it began, by default', async () => {
    const {run} = await handledSetup({});
    assert.ok(run.expireAt instanceof Timestamp, 'expireAt is a Timestamp');
    assert.strictEqual(
      run.expireAt.toMillis() - Date.parse(run.startedAt),
      30 * DAY_MS,
    );
    assert.strictEqual(
      runSummaryView(run).expiresAt,
      new Date(Date.parse(run.startedAt) + 30 * DAY_MS).toISOString(),
    );
  });

  it('RUN_RETENTION_DAYS sets the retention', async () => {
    const {run} = await handledSetup({RUN_RETENTION_DAYS: '7'});
    assert.strictEqual(
      run.expireAt?.toMillis(),
      Date.parse(run.startedAt) + 7 * DAY_MS,
    );
  });

  it('a redelivered run that began without one gets it', async () => {
    const {firestore} = await handledSetup({});
    // A record written before runs expired, still running when redelivered.
    const old = pubSubEvent({requestedBy: 'ana', dryRun: true});
    await firestore.collection(RUNS).doc(old.id).set({
      id: old.id,
      kind: 'setup',
      status: 'running',
      steps: [],
      deliveries: 1,
      startedAt: new Date().toISOString(),
    });
    await handleDelivery(old, setupRequestedHandler, plane!.context);
    const resumed = await readRun(firestore, old.id);
    assert.strictEqual(resumed?.deliveries, 2);
    assert.ok(resumed?.expireAt instanceof Timestamp);
  });
});
