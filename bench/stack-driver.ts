/**
 * Drives a running local stack from the outside, as a publisher and an operator would:
 * messages go in through the stack's Pub/Sub emulator, results are read from its
 * Firestore emulator and counted on the stand-ins. No CLI, no in-process handler.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import {Firestore} from '@google-cloud/firestore';
import {DEFAULT_TOPICS} from '../shared/function-specs';
import {isTerminalBuildStatus} from '../shared/messages';
import type {PubSub} from '@google-cloud/pubsub';
import {resetFirestore} from '../local/emulators';
import {
  type LocalStack,
  buildDurationsFor,
  emulatorPubSub,
} from '../local/stack';
import type {BuildStatus} from '../local/standins';
import {type BuildRecord, buildRecords} from '../shared/build-records';
import {type ManifestEntry, manifestEntries} from '../shared/manifest';
import {
  FINISHED_RUN_STATUSES,
  type RunRecord,
  runRecords,
} from '../shared/runs';

export const TOPICS = {
  setup: DEFAULT_TOPICS.setupRequestedTopic,
  dockerfileChanged: DEFAULT_TOPICS.dockerfileChangedTopic,
  teardown: DEFAULT_TOPICS.teardownRequestedTopic,
  cloudBuilds: DEFAULT_TOPICS.cloudBuildsTopic,
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** A build the Cloud Build stand-in ran, as the convergence checks need it. */
export interface StandInBuild {
  id: string;
  status: BuildStatus;
  image?: string;
  key?: string;
  attempt?: number;
}

/** A Firestore client for one emulator, whatever FIRESTORE_EMULATOR_HOST says. */
export function emulatorFirestore(host: string, projectId: string): Firestore {
  // The variable wins over `host` in the client's settings, and is read once, in the
  // constructor: set it for that moment only (a test process has its own emulator).
  const saved = process.env.FIRESTORE_EMULATOR_HOST;
  process.env.FIRESTORE_EMULATOR_HOST = host;
  try {
    return new Firestore({
      projectId,
      ignoreUndefinedProperties: true,
      universeDomain: 'googleapis.com',
    });
  } finally {
    if (saved === undefined) delete process.env.FIRESTORE_EMULATOR_HOST;
    else process.env.FIRESTORE_EMULATOR_HOST = saved;
  }
}

// The platform's timer, re-exported for the benchmarks that import it from here.
export {sleep};

export class StackDriver {
  readonly pubsub: PubSub;
  readonly firestore: Firestore;

  constructor(readonly stack: LocalStack) {
    this.pubsub = emulatorPubSub(stack.endpoints.pubsub, stack.projectId);
    this.firestore = emulatorFirestore(
      stack.endpoints.firestore,
      stack.projectId,
    );
  }

  get projectId(): string {
    return this.stack.projectId;
  }

  /** Publishes JSON (an object) or raw bytes (a Buffer, sent as they are); the message id. */
  async publish(
    topic: TopicName,
    data: object | Buffer,
    attributes?: Record<string, string>,
  ): Promise<string> {
    const bytes = Buffer.isBuffer(data)
      ? data
      : Buffer.from(JSON.stringify(data));
    return this.pubsub
      .topic(topic, {batching: {maxMessages: 1}})
      .publishMessage({data: bytes, attributes});
  }

  /** Forgets every run, record and image: Firestore emptied, stand-ins reset. */
  async reset(): Promise<void> {
    await resetFirestore(this.stack.endpoints.firestore, this.projectId);
    this.stack.standIns.reset();
    this.stack.standIns.cloudBuild.setBuildDurations(
      buildDurationsFor(this.stack.buildSeconds),
    );
  }

  async run(id: string): Promise<RunRecord | undefined> {
    const snapshot = await runRecords(this.firestore).doc(id).get();
    return snapshot.data();
  }

  async runs(): Promise<RunRecord[]> {
    const snapshot = await runRecords(this.firestore).get();
    return snapshot.docs.map(d => d.data());
  }

  async manifest(): Promise<Map<string, ManifestEntry>> {
    const snapshot = await manifestEntries(this.firestore).get();
    return new Map(snapshot.docs.map(d => [d.id, d.data()] as const));
  }

  async buildRecords(): Promise<BuildRecord[]> {
    const snapshot = await buildRecords(this.firestore).get();
    return snapshot.docs.map(d => d.data());
  }

  /** Waits until the run of `id` has finished; its record. */
  async waitForRun(id: string, timeoutMs = 30_000): Promise<RunRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.run(id);
      if (run && FINISHED_RUN_STATUSES.has(run.status)) return run;
      if (Date.now() > deadline) {
        throw new Error(
          `run ${id} did not finish within ${timeoutMs} ms (last seen: ${JSON.stringify(run ?? null)})`,
        );
      }
      await sleep(25);
    }
  }

  /**
   * Waits until the control plane is at rest: no build running on the stand-in, every
   * run finished, and nothing new for `quietMs` (a message in flight shows up as a new
   * run, or a new build, within that time).
   */
  async waitForQuiet(
    options: {quietMs?: number; timeoutMs?: number} = {},
  ): Promise<void> {
    const quietMs = options.quietMs ?? 1_500;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    let last = '';
    let stableSince = Date.now();
    for (;;) {
      const runs = await this.runs();
      const builds = this.builds();
      const busy =
        runs.some(r => !FINISHED_RUN_STATUSES.has(r.status)) ||
        builds.some(b => !isTerminalBuildStatus(b.status));
      const fingerprint = `${runs.length}/${runs.reduce((n, r) => n + (r.deliveries ?? 1) + r.steps.length, 0)}/${builds.length}/${builds.filter(b => isTerminalBuildStatus(b.status)).length}`;
      if (busy || fingerprint !== last) {
        last = fingerprint;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= quietMs) {
        return;
      }
      if (Date.now() > deadline) {
        const running = runs
          .filter(r => !FINISHED_RUN_STATUSES.has(r.status))
          .map(
            r => `${r.kind} ${r.id}: ${r.steps.map(s => s.text).join(' | ')}`,
          );
        throw new Error(
          `the stack did not come to rest within ${options.timeoutMs ?? 60_000} ms; ` +
            `${running.length} runs running:\n${running.join('\n')}`,
        );
      }
      await sleep(100);
    }
  }

  /** Every build the Cloud Build stand-in was asked for, oldest first. */
  builds(): StandInBuild[] {
    const cloudBuild = this.stack.standIns.cloudBuild;
    return cloudBuild.buildIds().map(id => {
      const json = cloudBuild.buildJson(id) as {
        substitutions?: Record<string, string>;
        tags?: string[];
      };
      const attemptTag = (json.tags ?? []).find(t =>
        t.startsWith('arr-attempt-'),
      );
      return {
        id,
        status: cloudBuild.buildStatus(id),
        image: json.substitutions?._IMAGE,
        key: json.substitutions?._CACHE_KEY,
        attempt: attemptTag ? Number(attemptTag.slice(12)) : undefined,
      };
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.pubsub.close(), this.firestore.terminate()]);
  }
}
