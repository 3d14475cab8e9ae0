/**
 * Figure 4 — cold start per function: a fresh functions-framework process, from spawn
 * until its first event is handled (the event is POSTed as soon as the port accepts it;
 * the answer comes once the handler is done), for the function's own entry
 * `build/functions/<name>/index.js`, beside the floor: the same framework serving
 * `floor-function.js`, which only loads and calls the clients that event needs.
 * Runs alternate real/floor so machine noise hits both alike; medians are compared.
 */
import {randomUUID} from 'node:crypto';
import {dirname, join, resolve} from 'node:path';
import {performance} from 'node:perf_hooks';
import {setTimeout as sleep} from 'node:timers/promises';
import {findFreePort} from '../local/ports';
import {pushBody, pushEndpointFor} from '../local/function-host';
import {ProcessGroup} from '../local/process-group';
import {BASE_IMAGE, dockerfileChanged} from './checklist';
import type {StackDriver} from './stack-driver';
import {median} from './stats';
import {
  DEFAULT_TOPICS,
  type FunctionName,
  functionSpec,
  topicOf,
} from '../shared/function-specs';

const BUILD_ROOT = resolve(__dirname, '..');

interface ColdStartEvent {
  name: FunctionName;
  event: string;
  data: () => object;
  clients: readonly string[];
}

/** The first event each function gets here, and the clients that event needs. */
const COLD_START_EVENTS: readonly ColdStartEvent[] = [
  {
    name: 'setup-requested',
    event: 'setup, dry run',
    data: () => ({dryRun: true, requestedBy: 'bench'}),
    clients: ['firestore', 'artifactRegistry'],
  },
  {
    name: 'dockerfile-changed',
    event: 'cache hit',
    data: () => dockerfileChanged(BASE_IMAGE),
    clients: ['firestore', 'artifactRegistry'],
  },
  {
    name: 'build-finished',
    event: 'QUEUED of an unknown build',
    data: () => ({
      id: randomUUID(),
      projectId: 'arr-local',
      status: 'QUEUED',
      tags: ['arr-control-plane'],
      substitutions: {_IMAGE: 'arr-trainer', _CACHE_KEY: '0123456789ab'},
    }),
    clients: ['firestore'],
  },
  {
    name: 'teardown-requested',
    event: 'teardown, dry run',
    data: () => ({requestedBy: 'bench'}),
    clients: ['firestore', 'artifactRegistry'],
  },
];

/** Each function with its event, reached by the entry point and topic its spec gives. */
export const COLD_START_CASES: ReadonlyArray<
  ColdStartEvent & {target: string; topic: string}
> = COLD_START_EVENTS.map(c => {
  const spec = functionSpec(c.name);
  return {...c, target: spec.entryPoint, topic: topicOf(spec, DEFAULT_TOPICS)};
});

export interface ColdStart {
  name: string;
  event: string;
  clients: string[];
  runs: number;
  /** Median spawn → first event handled, ms. */
  functionMs: number;
  floorMs: number;
  ratio: number;
}

function functionsFrameworkMain(): string {
  return join(
    dirname(require.resolve('@google-cloud/functions-framework')),
    'main.js',
  );
}

/** One fresh process: spawn → first event answered 2xx, in ms. */
async function oneColdStart(
  driver: StackDriver,
  source: string,
  target: string,
  topic: string,
  data: object,
  env: Record<string, string>,
): Promise<number> {
  const port = await findFreePort();
  const endpoint = pushEndpointFor(
    `http://127.0.0.1:${port}`,
    driver.projectId,
    topic,
  );
  const body = JSON.stringify(
    pushBody(
      {data: JSON.stringify(data), messageId: `cold-${randomUUID()}`},
      driver.projectId,
    ),
  );
  const started = performance.now();
  const group = await ProcessGroup.start({
    name: `cold start (${target})`,
    command: process.execPath,
    args: [
      functionsFrameworkMain(),
      `--target=${target}`,
      '--signature-type=cloudevent',
      `--source=${source}`,
      `--port=${port}`,
    ],
    env: {...process.env, ...driver.stack.env, LOG_LEVEL: 'warn', ...env},
  });
  try {
    for (;;) {
      if (group.exitedWith !== undefined) {
        throw new Error(`${target} from ${source} exited:\n${group.output}`);
      }
      try {
        const response = await fetch(endpoint, {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body,
        });
        const text = await response.text();
        if (response.ok) return performance.now() - started;
        throw new Error(
          `${target} answered ${response.status}: ${text}\n${group.output}`,
        );
      } catch (error) {
        if (!isConnectionRefused(error)) throw error;
      }
      if (performance.now() - started > 30_000) {
        throw new Error(
          `${target} did not listen within 30 s:\n${group.output}`,
        );
      }
      await sleep(5);
    }
  } finally {
    await group.stop({graceMs: 1_000});
  }
}

function isConnectionRefused(error: unknown): boolean {
  const cause = (error as {cause?: {code?: string}} | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

export async function measureColdStarts(
  driver: StackDriver,
  runs = 5,
): Promise<ColdStart[]> {
  const floor = join(BUILD_ROOT, 'bench', 'floor-function.js');
  const results: ColdStart[] = [];
  for (const c of COLD_START_CASES) {
    const source = join(BUILD_ROOT, 'functions', c.name, 'index.js');
    const real: number[] = [];
    const floors: number[] = [];
    // One uncounted pair: the first spawn pays for a cold file cache.
    for (let i = 0; i <= runs; i++) {
      const r = await oneColdStart(
        driver,
        source,
        c.target,
        c.topic,
        c.data(),
        {},
      );
      const f = await oneColdStart(driver, floor, c.target, c.topic, c.data(), {
        FLOOR_TARGET: c.target,
        FLOOR_CLIENTS: c.clients.join(','),
      });
      if (i === 0) continue;
      real.push(r);
      floors.push(f);
    }
    const functionMs = median(real);
    const floorMs = median(floors);
    results.push({
      name: c.name,
      event: c.event,
      clients: [...c.clients],
      runs,
      functionMs,
      floorMs,
      ratio: functionMs / floorMs,
    });
  }
  return results;
}
