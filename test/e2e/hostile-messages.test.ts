/**
 * Hostile and oversized messages, published to the Pub/Sub emulator and pushed to the
 * functions as Eventarc would: every one ends in one delivery with a recorded refusal or
 * failure, nothing is deleted, and no value from a message can forge a line of output.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import * as assert from 'assert';
import type {PubSub} from '@google-cloud/pubsub';
import {renderRun} from '../../cli/render';
import {runView} from '../../cli/views';
import {MAX_MESSAGE_BYTES} from '../../shared/decode-message';
import {
  DEFAULT_TOPICS,
  routesFor,
  type Topics,
} from '../../shared/function-specs';
import {readRun, RunRecord} from '../../shared/runs';
import {
  TestControlPlane,
  seedSetUpRepositories,
} from '../support/control-plane';
import {waitForFinishedRun} from '../support/runs';
import {serveFunctionsForSuite} from '../support/served-functions';

const ROUTES = routesFor(DEFAULT_TOPICS);
const TEARDOWN_TOPIC = DEFAULT_TOPICS.teardownRequestedTopic;
const EPHEMERAL = 'arr-coc-registry';
const PERSISTENT = 'arr-coc-registry-persistent';

describe('hostile and oversized messages over Pub/Sub', function () {
  this.timeout(120_000);
  let plane: TestControlPlane;
  let pubsub: PubSub;

  serveFunctionsForSuite(stack => ({plane, pubsub} = stack));

  const deletes = () => plane.artifactRegistry.calls.count('DeleteRepository');
  const firestore = () => plane.context.clients.firestore();

  async function publishRaw(topic: string, data: Buffer): Promise<string> {
    return pubsub.topic(topic).publishMessage({data});
  }
  /** Finished, and still one delivery a moment later: the function acknowledged it. */
  async function endedInOneDelivery(messageId: string): Promise<RunRecord> {
    const run = await waitForFinishedRun(await firestore(), messageId, 60_000);
    await sleep(1500);
    const again = await readRun(await firestore(), messageId);
    assert.strictEqual(again?.deliveries, 1, JSON.stringify(again?.steps));
    return run;
  }
  const failedOrRefused = (topic: string) =>
    topic === TEARDOWN_TOPIC ? 'refused' : 'failed';

  it('a message of almost 10 MB on each topic ends in one delivery, refused by its size', async () => {
    seedSetUpRepositories(plane);
    const big = Buffer.from(
      JSON.stringify({confirm: EPHEMERAL, padding: 'x'.repeat(9_500_000)}),
    );
    const ids = await Promise.all(
      Object.keys(ROUTES).map(
        async topic => [topic, await publishRaw(topic, big)] as const,
      ),
    );
    for (const [topic, id] of ids) {
      const run = await endedInOneDelivery(id);
      assert.strictEqual(run.status, failedOrRefused(topic), topic);
      assert.match(
        run.error ?? '',
        new RegExp(`at most ${MAX_MESSAGE_BYTES} are accepted`),
      );
    }
    assert.strictEqual(deletes(), 0);
  });

  it('a 1 MiB unknown key and a 1 MiB confirm are refused with the values cut to 200 characters', async () => {
    seedSetUpRepositories(plane);
    const huge = 'k'.repeat(200_000);
    const keyId = await publishRaw(
      TEARDOWN_TOPIC,
      Buffer.from(JSON.stringify({[huge]: 1})),
    );
    const confirmId = await publishRaw(
      TEARDOWN_TOPIC,
      Buffer.from(JSON.stringify({confirm: 'c'.repeat(200_000)})),
    );
    const key = await endedInOneDelivery(keyId);
    assert.strictEqual(key.status, 'refused');
    assert.match(key.error ?? '', /`k{200}…` \(200000 characters\)/);
    assert.ok((key.error ?? '').length < 1000, key.error);
    const confirm = await endedInOneDelivery(confirmId);
    assert.strictEqual(confirm.status, 'refused', confirm.error);
    assert.match(
      confirm.error ?? '',
      /field `confirm` must be the ephemeral repository id/,
    );
    assert.strictEqual(deletes(), 0);
  });

  it('duplicate keys are malformed on every topic: neither value is acted on', async () => {
    seedSetUpRepositories(plane);
    // By trigger, so that the compiler asks for a message for every topic.
    const byTrigger: Record<keyof Topics, string> = {
      teardownRequestedTopic: `{"confirm":"x","confirm":"${EPHEMERAL}"}`,
      setupRequestedTopic: '{"dryRun":true,"dryRun":false}',
      dockerfileChangedTopic:
        '{"image":"arr-trainer","image":"arr-pytorch-base","dockerfileHash":"0123456789ab","source":"gs://b/o.tar.gz"}',
      cloudBuildsTopic: '{"id":"a","id":"b","status":"SUCCESS"}',
    };
    const messages = Object.fromEntries(
      Object.entries(byTrigger).map(([trigger, message]) => [
        DEFAULT_TOPICS[trigger as keyof Topics],
        message,
      ]),
    );
    const escaped = await publishRaw(
      TEARDOWN_TOPIC,
      Buffer.from(`{"confirm":"${EPHEMERAL}","dryRun":true,"dryRun":false}`),
    );
    const ids = await Promise.all(
      Object.keys(messages).map(
        async topic =>
          [
            topic,
            await publishRaw(topic, Buffer.from(messages[topic])),
          ] as const,
      ),
    );
    for (const [topic, id] of ids) {
      const run = await endedInOneDelivery(id);
      assert.strictEqual(run.status, failedOrRefused(topic), topic);
      assert.match(run.error ?? '', /appears twice in one object/, topic);
    }
    assert.strictEqual((await endedInOneDelivery(escaped)).status, 'refused');
    assert.strictEqual(deletes(), 0);
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 0);
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      0,
    );
  });

  it('a confirm carrying a newline, a fake line and ANSI escapes is refused and prints as one escaped line', async () => {
    seedSetUpRepositories(plane);
    const forged = `x\n   ✓ Deleted: ${PERSISTENT}\u001b[31m`;
    // Within the schema's 63 characters, so it reaches the guard and its quoting.
    assert.ok(forged.length <= 63);
    const id = await pubsub
      .topic(TEARDOWN_TOPIC)
      .publishMessage({json: {confirm: forged}});
    const run = await endedInOneDelivery(id);
    assert.strictEqual(run.status, 'refused');
    for (const text of [...run.steps.map(s => s.text), run.error ?? '']) {
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(text, /[\n\u001b]/);
    }
    assert.match(
      run.error ?? '',
      /confirm is "x\\n {3}✓ Deleted: .*\\u001b\[31m"/,
    );
    const printed = renderRun(runView(run));
    assert.ok(
      !printed.split('\n').some(line => /^\s*✓ Deleted/.test(line)),
      printed,
    );
    assert.doesNotMatch(printed, /✗ Refused: ✗/);
    assert.strictEqual(deletes(), 0);
  });

  it('of 20 concurrent confirmed teardowns, one says deleted and the others say nothing was deleted', async () => {
    seedSetUpRepositories(plane);
    const ids = await Promise.all(
      Array.from({length: 20}, () =>
        pubsub
          .topic(TEARDOWN_TOPIC)
          .publishMessage({json: {confirm: EPHEMERAL}}),
      ),
    );
    const runs = await Promise.all(
      ids.map(async id => waitForFinishedRun(await firestore(), id, 60_000)),
    );
    const outcomes = runs.map(run => run.outcome ?? run.error ?? '');
    assert.strictEqual(deletes() >= 1, true);
    assert.strictEqual(
      outcomes.filter(o => /^arr-coc-registry deleted;/.test(o)).length,
      1,
      outcomes.join('\n'),
    );
    assert.strictEqual(
      outcomes.filter(o => /already absent; nothing deleted/.test(o)).length,
      19,
      outcomes.join('\n'),
    );
  });
});
