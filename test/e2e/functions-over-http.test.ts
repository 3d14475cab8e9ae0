import * as assert from 'assert';
import {resolve} from 'node:path';
import {PubSub} from '@google-cloud/pubsub';
import {
  postPushMessage,
  serveFunctions,
  ServedFunctions,
} from '../../deploy/local/function-host';
import {readRun} from '../../shared/runs';
import {harness} from '../harness/harness';
import {TestControlPlane, testControlPlane} from '../support/control-plane';
import {waitForFinishedRun} from '../support/runs';

const SOURCE = resolve(__dirname, '../../functions/index.js');

describe('setupRequested over HTTP (Pub/Sub emulator push → functions-framework)', () => {
  let plane: TestControlPlane;
  let pubsub: PubSub;
  let served: ServedFunctions;

  before(async function () {
    this.timeout(60_000);
    plane = await testControlPlane();
    pubsub = new PubSub({projectId: harness.projectId});
    served = await serveFunctions({
      source: SOURCE,
      routes: {'setup-requested': 'setupRequested'},
      pubsub,
      projectId: harness.projectId,
      env: {...plane.env, LOG_LEVEL: 'warn'},
    });
  });

  after(async () => {
    await served?.stop();
    await pubsub?.close();
    await plane?.close();
  });

  it('a published setup-requested creates both repositories', async () => {
    const messageId = await pubsub
      .topic('setup-requested')
      .publishMessage({json: {requestedBy: 'e2e'}});
    const firestore = await plane.context.clients.firestore();
    const run = await waitForFinishedRun(firestore, messageId);
    assert.strictEqual(
      run.status,
      'succeeded',
      run.steps.map(s => s.text).join('\n'),
    );
    assert.strictEqual(run.requestedBy, 'e2e');
    const ids = plane.artifactRegistry.store
      .listRepositories({projectId: harness.projectId, location: 'us-central1'})
      .map(r => r.repositoryId)
      .sort();
    assert.deepStrictEqual(ids, [
      'arr-coc-registry',
      'arr-coc-registry-persistent',
    ]);
  });

  it('acknowledges a malformed message with 204, records it failed, and calls nothing', async () => {
    const answer = await postPushMessage(
      served.pushEndpoints['setup-requested'],
      {rawData: 'this is not base64!', messageId: 'malformed-over-http'},
      harness.projectId,
    );
    assert.strictEqual(answer.status, 204, answer.body);
    const run = await readRun(
      await plane.context.clients.firestore(),
      'malformed-over-http',
    );
    assert.strictEqual(run?.status, 'failed');
    assert.match(run?.error ?? '', /not valid base64/);
    assert.strictEqual(plane.artifactRegistry.calls.all().length, 0);
  });
});
