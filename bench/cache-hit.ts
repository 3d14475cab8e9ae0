/**
 * Figure 2 — the cache hit: the same base Dockerfile hash again, once the base is built.
 *
 * Latency: 200 deliveries, one after another, POSTed to the dockerfileChanged function
 * exactly as a push subscription does; functions-framework answers once the handler has
 * recorded the run, so the answer time is the handling time. Remote calls: counted on
 * the stand-ins over those 200, and, for Firestore (an emulator cannot count), by
 * running the same handler in this process against the same stack with a counting
 * Firestore client.
 */
import {randomUUID} from 'node:crypto';
import {performance} from 'node:perf_hooks';
import {postPushMessage, pushEndpointFor} from '../local/function-host';
import {dockerfileChangedHandler} from '../functions/dockerfile-changed/handler';
import {loadConfig} from '../shared/config';
import {createContext} from '../shared/context';
import {handleDelivery} from '../shared/handle-delivery';
import {createLogger} from '../shared/log';
import {BASE_IMAGE, dockerfileChanged, isCacheHit} from './checklist';
import {FirestoreCallCounter} from './firestore-calls';
import {type StackDriver, TOPICS} from './stack-driver';
import {percentile} from './stats';
import {Writable} from 'node:stream';

export interface CacheHit {
  events: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Every answer was 2xx and every run a cache hit. */
  allHits: boolean;
  /** Calls per hit that reached the stand-ins (Artifact Registry GetTag, Cloud Build). */
  standInCallsPerHit: number;
  cloudBuildCallsPerHit: number;
  /** Firestore RPCs per hit for the cache decision (images/, builds/). */
  firestoreDecisionCallsPerHit: number;
  /** Firestore RPCs per hit after the decision: the run record (runs/: dedupe, steps, outcome) and the savings counter (stats/). */
  firestoreRunRecordCallsPerHit: number;
  /** Firestore decision reads + stand-in calls: the goal is ≤ 2. */
  remoteCallsPerHit: number;
}

export function functionUrl(driver: StackDriver, target: string): string {
  const served = driver.stack.functions.find(f => f.target === target);
  if (!served) throw new Error(`the stack does not serve ${target}`);
  return pushEndpointFor(served.url, driver.projectId, served.topic);
}

/** A built base: setup, then its Dockerfile, then rest. */
export async function prepareBuiltBase(driver: StackDriver): Promise<void> {
  await driver.reset();
  await driver.publish(TOPICS.setup, {requestedBy: 'bench'});
  await driver.waitForQuiet({quietMs: 500});
  await driver.publish(TOPICS.dockerfileChanged, dockerfileChanged(BASE_IMAGE));
  await driver.waitForQuiet({quietMs: 1_000});
}

export async function measureCacheHit(
  driver: StackDriver,
  events = 200,
): Promise<CacheHit> {
  await prepareBuiltBase(driver);
  const endpoint = functionUrl(driver, 'dockerfileChanged');
  const message = {data: JSON.stringify(dockerfileChanged(BASE_IMAGE))};
  const deliver = async (): Promise<{ms: number; ok: boolean; id: string}> => {
    const id = `hit-${randomUUID()}`;
    const started = performance.now();
    const answer = await postPushMessage(
      endpoint,
      {...message, messageId: id},
      driver.projectId,
    );
    return {
      ms: performance.now() - started,
      ok: answer.status >= 200 && answer.status < 300,
      id,
    };
  };

  // Warm: the first deliveries open the function's channels.
  for (let i = 0; i < 10; i++) await deliver();

  const {artifactRegistry, cloudBuild} = driver.stack.standIns;
  artifactRegistry.calls.clear();
  cloudBuild.calls.clear();
  const latencies: number[] = [];
  const ids: string[] = [];
  let allOk = true;
  for (let i = 0; i < events; i++) {
    const result = await deliver();
    latencies.push(result.ms);
    ids.push(result.id);
    allOk &&= result.ok;
  }
  const standInCalls = artifactRegistry.calls.all().length;
  const cloudBuildCalls = cloudBuild.calls.all().length;

  const sample = ids.filter((_, i) => i % 20 === 0);
  const runs = await Promise.all(sample.map(id => driver.run(id)));
  const allHits = allOk && runs.every(r => r !== undefined && isCacheHit(r));

  const firestore = await firestoreCallsPerHit(driver, 20);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    events,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    maxMs: sorted[sorted.length - 1],
    allHits,
    standInCallsPerHit: standInCalls / events,
    cloudBuildCallsPerHit: cloudBuildCalls / events,
    firestoreDecisionCallsPerHit: firestore.work,
    firestoreRunRecordCallsPerHit: firestore.runRecord,
    remoteCallsPerHit: firestore.work + standInCalls / events,
  };
}

function assertEnvironmentReaches(driver: StackDriver): void {
  for (const name of ['FIRESTORE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST']) {
    if (process.env[name] !== driver.stack.env[name]) {
      throw new Error(
        `${name} must point at the stack (${driver.stack.env[name]}) to count calls in process`,
      );
    }
  }
}

/** The same handler in this process, with a Firestore client that counts its RPCs. */
async function firestoreCallsPerHit(
  driver: StackDriver,
  events: number,
): Promise<{work: number; runRecord: number}> {
  // The clients read the emulator hosts from the environment when first used.
  assertEnvironmentReaches(driver);
  const counter = new FirestoreCallCounter().install();
  const context = createContext(loadConfig(driver.stack.env), {
    log: createLogger({}, new Writable({write: (_c, _e, done) => done()})),
  });
  try {
    const event = (id: string) => ({
      id,
      data: {
        message: {
          data: Buffer.from(
            JSON.stringify(dockerfileChanged(BASE_IMAGE)),
          ).toString('base64'),
          messageId: id,
        },
      },
    });
    // One to open the channels, uncounted.
    await handleDelivery(
      event(`warm-${randomUUID()}`),
      dockerfileChangedHandler,
      context,
    );
    counter.clear();
    for (let i = 0; i < events; i++) {
      await handleDelivery(
        event(`count-${randomUUID()}`),
        dockerfileChangedHandler,
        context,
      );
    }
    const {work, runRecord} = counter.split();
    return {work: work / events, runRecord: runRecord / events};
  } finally {
    counter.uninstall();
    await context.clients.close();
  }
}
