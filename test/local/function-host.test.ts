import {setTimeout as sleep} from 'node:timers/promises';
import * as assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import {createServer} from 'node:http';
import {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {PubSub} from '@google-cloud/pubsub';
import {
  FunctionHostEvent,
  RESTART_LIMIT,
  ServedFunctions,
  postPushMessage,
  pushBody,
  pushEndpointFor,
  serveFunctions,
  startFunctionHost,
  wirePushSubscription,
} from '../../local/function-host';
import type {RecordedDelivery} from './fixtures/recording-function';
import {harness} from '../harness/harness';
import {uniqueName, uniqueTopicAndSubscription} from '../harness/names';
import {livingMembers} from '../harness/process-cleanup';
import {eventually} from '../harness/wait';

const FIXTURE = join(__dirname, 'fixtures', 'recording-function.js');
const MESSAGE_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';
/** The emulator redelivers a nacked push about a second later. */
const REDELIVERY_WINDOW_MS = 3_000;

interface PubsubEventData {
  message: {
    data?: string;
    attributes?: Record<string, string>;
    messageId: string;
    publishTime: string;
  };
}

describe('function host with Pub/Sub push', () => {
  let scratch: string;
  let recordFile: string;
  let pubsub: PubSub;
  let served: ServedFunctions;
  let topic: string;

  function deliveries(eventId?: string): RecordedDelivery[] {
    if (!existsSync(recordFile)) return [];
    return readFileSync(recordFile, 'utf8')
      .split('\n')
      .filter(line => line !== '')
      .map(line => JSON.parse(line) as RecordedDelivery)
      .filter(d => eventId === undefined || d.event.id === eventId);
  }

  function deliveriesOf(eventId: string, count: number) {
    return eventually(
      () => {
        const found = deliveries(eventId);
        return found.length >= count ? found : undefined;
      },
      {waitingFor: `${count} deliveries of message ${eventId}`},
    );
  }

  function publish(payload: string, attributes: Record<string, string> = {}) {
    return pubsub
      .topic(topic)
      .publishMessage({data: Buffer.from(payload), attributes});
  }

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'function-host-'));
    recordFile = join(scratch, 'deliveries.jsonl');
    pubsub = new PubSub({projectId: harness.projectId});
    topic = uniqueName('recorded');
    served = await serveFunctions({
      source: FIXTURE,
      routes: {[topic]: 'recordEvent'},
      pubsub,
      projectId: harness.projectId,
      env: {...harness.env, RECORD_FILE: recordFile},
    });
  });

  after(async () => {
    await served?.stop();
    await pubsub?.close();
    rmSync(scratch, {recursive: true, force: true});
  });

  it("runs functions-framework on the Node.js that runs the tests (under npm test, the deployed runtime's)", () => {
    assert.ok(served.hosts.length > 0);
    for (const host of served.hosts) {
      assert.equal(
        realpathSync(`/proc/${host.pgid}/exe`),
        realpathSync(process.execPath),
        host.target,
      );
    }
  });

  it('delivers a published message to the function as a CloudEvent', async () => {
    const messageId = await publish('{"image":"arr-ml-stack"}', {
      origin: 'test',
    });
    const [delivery] = await deliveriesOf(messageId, 1);
    const {event} = delivery;
    assert.equal(event.id, messageId);
    assert.equal(event.type, MESSAGE_PUBLISHED);
    assert.equal(
      event.source,
      `//pubsub.googleapis.com/projects/${harness.projectId}/topics/${topic}`,
    );
    const {message} = event.data as PubsubEventData;
    assert.equal(
      message.data,
      Buffer.from('{"image":"arr-ml-stack"}').toString('base64'),
    );
    assert.deepEqual(message.attributes, {origin: 'test'});
    assert.equal(message.messageId, messageId);
    assert.equal(delivery.outcome, 'returned');
  });

  it('redelivers a message whose handler throws, until it returns', async () => {
    const messageId = await publish('{}', {failAttempts: '2'});
    const found = await deliveriesOf(messageId, 3);
    assert.deepEqual(
      found.map(d => [d.attempt, d.outcome]),
      [
        [1, 'threw'],
        [2, 'threw'],
        [3, 'returned'],
      ],
    );
    await sleep(REDELIVERY_WINDOW_MS);
    assert.equal(deliveries(messageId).length, 3, 'no delivery after success');
  });

  it('does not redeliver a message whose handler returns', async () => {
    const messageId = await publish('{}');
    await deliveriesOf(messageId, 1);
    await sleep(REDELIVERY_WINDOW_MS);
    assert.equal(deliveries(messageId).length, 1);
  });

  it('answers 204 when the handler returns and 500 when it throws', async () => {
    const endpoint = served.pushEndpoints[topic];
    const ok = await postPushMessage(endpoint, {data: '{}'}, harness.projectId);
    assert.equal(ok.status, 204);
    const failed = await postPushMessage(
      endpoint,
      {data: '{}', attributes: {failAttempts: '1'}},
      harness.projectId,
    );
    assert.equal(failed.status, 500);
  });

  it('passes data that is not base64 to the handler untouched', async () => {
    const answer = await postPushMessage(
      served.pushEndpoints[topic],
      {rawData: '%%% not base64 %%%', messageId: 'not-base64'},
      harness.projectId,
    );
    assert.equal(answer.status, 204);
    const [delivery] = deliveries('not-base64');
    assert.equal(
      (delivery.event.data as PubsubEventData).message.data,
      '%%% not base64 %%%',
    );
  });

  it('builds the same push body as the emulator sends', async () => {
    const received: unknown[] = [];
    const capture = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>(resolve => capture.listen(0, '127.0.0.1', resolve));
    const names = uniqueTopicAndSubscription('capture');
    const subscription = await wirePushSubscription({
      pubsub,
      ...names,
      pushEndpoint: pushEndpointFor(
        `http://127.0.0.1:${(capture.address() as AddressInfo).port}`,
        harness.projectId,
        names.topic,
      ),
    });
    try {
      const messageId = await pubsub
        .topic(names.topic)
        .publishMessage({data: Buffer.from('{"a":1}'), attributes: {k: 'v'}});
      const [fromEmulator] = await eventually(() =>
        received.length > 0 ? received : undefined,
      );
      const ours = pushBody(
        {
          data: '{"a":1}',
          attributes: {k: 'v'},
          messageId,
          publishTime: (fromEmulator as {message: {publishTime: string}})
            .message.publishTime,
          subscription: `projects/${harness.projectId}/subscriptions/${names.subscription}`,
        },
        harness.projectId,
      );
      assert.deepEqual(fromEmulator, ours);
    } finally {
      await subscription.delete();
      capture.close();
    }
  });
});

describe('function host lifecycle', () => {
  it('serves several targets, each topic pushing to its own, and stops them all', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'function-hosts-'));
    const recordFile = join(scratch, 'deliveries.jsonl');
    const pubsub = new PubSub({projectId: harness.projectId});
    const first = uniqueName('first');
    const second = uniqueName('second');
    const served = await serveFunctions({
      source: FIXTURE,
      routes: {[first]: 'recordEvent', [second]: 'recordOtherEvent'},
      pubsub,
      projectId: harness.projectId,
      env: {...harness.env, RECORD_FILE: recordFile},
    });
    try {
      assert.deepEqual(Object.keys(served.urls).sort(), [
        'recordEvent',
        'recordOtherEvent',
      ]);
      const toFirst = await pubsub
        .topic(first)
        .publishMessage({data: Buffer.from('1')});
      const toSecond = await pubsub
        .topic(second)
        .publishMessage({data: Buffer.from('2')});
      const targets = await eventually(() => {
        if (!existsSync(recordFile)) return undefined;
        const lines = readFileSync(recordFile, 'utf8').trim().split('\n');
        if (lines.length < 2) return undefined;
        return Object.fromEntries(
          lines
            .map(line => JSON.parse(line) as RecordedDelivery)
            .map(d => [d.event.id, d.target]),
        );
      });
      assert.deepEqual(targets, {
        [toFirst]: 'recordEvent',
        [toSecond]: 'recordOtherEvent',
      });
      await served.stop();
      for (const host of served.hosts) {
        assert.deepEqual(livingMembers(host.pgid), []);
      }
      const [subscriptions] = await pubsub.topic(first).getSubscriptions();
      assert.deepEqual(subscriptions, [], 'push subscriptions deleted');
    } finally {
      await served.stop();
      await pubsub.close();
      rmSync(scratch, {recursive: true, force: true});
    }
  });

  it('stopping a host leaves no process of its group behind', async () => {
    const host = await startFunctionHost({
      source: FIXTURE,
      target: 'recordEvent',
    });
    try {
      assert.equal(livingMembers(host.pgid).length, 1);
      assert.ok((await fetch(`${host.url}/`)).status > 0);
    } finally {
      await host.stop();
    }
    assert.deepEqual(livingMembers(host.pgid), []);
    await assert.rejects(fetch(`${host.url}/`));
  });

  it('starts a function that exits unasked again, on the same port, and says so', async () => {
    const events: FunctionHostEvent[] = [];
    const host = await startFunctionHost({
      source: FIXTURE,
      target: 'recordEvent',
      restart: true,
      onEvent: event => events.push(event),
    });
    const first = host.pgid;
    try {
      process.kill(-first, 'SIGKILL');
      await eventually(() => events.find(event => event.kind === 'restarted'), {
        waitingFor: 'the function to be started again',
        timeoutMs: 60_000,
      });
      assert.deepEqual(
        events.map(event => event.kind),
        ['exited', 'restarted'],
      );
      const [exited] = events;
      assert.ok(exited.kind === 'exited');
      assert.equal(exited.exit.signal, 'SIGKILL');
      assert.equal(exited.restarting, true);
      assert.equal(host.restarts, 1);
      assert.notEqual(host.pgid, first);
      assert.deepEqual(livingMembers(first), []);
      assert.ok((await fetch(`${host.url}/`)).status > 0, 'it serves again');
    } finally {
      await host.stop();
    }
    assert.deepEqual(livingMembers(host.pgid), []);
    assert.equal(events.length, 2, 'stop() is not an exit to restart after');
  });

  it(`after ${RESTART_LIMIT} restarts within a minute, a function that keeps exiting stays down, and says so`, async function () {
    this.timeout(120_000);
    const events: FunctionHostEvent[] = [];
    const host = await startFunctionHost({
      source: FIXTURE,
      target: 'recordEvent',
      restart: true,
      onEvent: event => events.push(event),
    });
    try {
      for (let restarts = 1; restarts <= RESTART_LIMIT; restarts++) {
        process.kill(-host.pgid, 'SIGKILL');
        await eventually(
          () => (host.restarts === restarts ? true : undefined),
          {waitingFor: `restart ${restarts}`, timeoutMs: 30_000},
        );
      }
      process.kill(-host.pgid, 'SIGKILL');
      const gaveUp = await eventually(
        () => events.find(event => event.kind === 'gave-up'),
        {waitingFor: 'it to stay down'},
      );
      assert.ok(gaveUp.kind === 'gave-up');
      assert.match(gaveUp.reason, /exited 6 times within a minute/);
      const last = events[events.length - 2];
      assert.ok(last.kind === 'exited' && last.restarting === false);
      assert.equal(host.restarts, RESTART_LIMIT);
      await assert.rejects(fetch(`${host.url}/`));
    } finally {
      await host.stop();
    }
  });

  it('without restart, an exit is reported and the function stays down', async () => {
    const events: FunctionHostEvent[] = [];
    const host = await startFunctionHost({
      source: FIXTURE,
      target: 'recordEvent',
      onEvent: event => events.push(event),
    });
    try {
      process.kill(-host.pgid, 'SIGKILL');
      const exited = await eventually(() => events[0], {
        waitingFor: 'the exit to be reported',
      });
      assert.ok(exited.kind === 'exited' && exited.restarting === false);
      await sleep(1_000);
      assert.equal(events.length, 1);
      await assert.rejects(fetch(`${host.url}/`));
    } finally {
      await host.stop();
    }
  });

  it('passes on each line the function writes once it serves', async () => {
    const lines: string[] = [];
    const host = await startFunctionHost({
      source: FIXTURE,
      target: 'recordEvent',
      onLine: line => lines.push(line),
    });
    try {
      // functions-framework's own start-up banner is not passed on.
      assert.ok(
        !lines.some(line => /Serving function/.test(line)),
        lines.join('\n'),
      );
      assert.match(host.output, /Serving function/);
    } finally {
      await host.stop();
    }
  });

  it('a target that is not registered fails with the framework output', async () => {
    await assert.rejects(
      startFunctionHost({source: FIXTURE, target: 'noSuchFunction'}),
      /did not serve target noSuchFunction[\s\S]*--- output ---\n.*\S/,
    );
  });
});
