/**
 * Figure 5 — cleanup at scale: 1,000 old versions of one image in the Artifact Registry
 * stand-in, 20 ms of added latency on every call. The control plane's own adapter lists
 * them, the pure planner plans, `applyCleanupPlan` deletes (tags before digests) with the
 * concurrency it ships with; the same work done serially is the yardstick.
 *
 * Two plans: the one build-finished makes (the default policy deletes at most 50 per
 * run, the rest wait for the next runs), and the whole backlog at once (the cap lifted),
 * which is what "at scale" asks of the apply step.
 */
import {performance} from 'node:perf_hooks';
import {ArtifactRegistry} from '../shared/artifact-registry';
import {applyCleanupPlan, CLEANUP_CONCURRENCY} from '../shared/cleanup';
import {
  type CleanupPlan,
  DEFAULT_CLEANUP_POLICY,
  planCleanup,
} from '../shared/cleanup-planner';
import {createClients} from '../shared/clients';
import {loadConfig} from '../shared/config';
import type {StackDriver} from './stack-driver';

const IMAGE = 'arr-trainer';
const REPOSITORY = 'arr-coc-registry';
const HOUR = 3_600_000;
/** Seeding pushes real images; this many at once keeps a 1,000-version seed short. */
const SEED_CONCURRENCY = 16;

export interface CleanupPhase {
  deletions: number;
  listMs: number;
  planMs: number;
  applyMs: number;
  /** list + plan + apply. */
  totalMs: number;
  failed: number;
  calls: number;
}

export interface CleanupAtScale {
  versions: number;
  latencyMs: number;
  concurrency: number;
  /** The plan build-finished applies (default policy, capped per run). */
  perRun: CleanupPhase & {runsForBacklog: number};
  /** Every deletable version at once, with the shipped concurrency. */
  backlog: CleanupPhase;
  /** The backlog done one call at a time. */
  serialMs: number;
  /** True when serialMs was measured on all of it; false: on a sample, scaled. */
  serialMeasuredInFull: boolean;
  /** serialMs / backlog.totalMs */
  speedup: number;
  /** Versions left afterwards: exactly those the plan kept. */
  leftAsPlanned: boolean;
}

export async function measureCleanupAtScale(
  driver: StackDriver,
  options: {versions?: number; latencyMs?: number; fullSerial?: boolean} = {},
): Promise<CleanupAtScale> {
  const versions = options.versions ?? 1_000;
  const latencyMs = options.latencyMs ?? 20;
  const standIn = driver.stack.standIns.artifactRegistry;
  const config = loadConfig(driver.stack.env);
  const clients = createClients(config);
  const registry = new ArtifactRegistry(clients.artifactRegistry, config);
  const repositoryName = registry.repositoryName(REPOSITORY);
  const now = new Date();
  const currentKey = keyOf(0);

  const seed = async () => {
    standIn.reset();
    standIn.seedRepository(repositoryName, {
      labels: {'arr-lifecycle': 'ephemeral'},
    });
    // Real pushes, a few at a time: each version's upload time is set, so order does not matter.
    const pushes = Array.from(
      {length: versions},
      (_, i) => () =>
        standIn.seedImage(
          repositoryName,
          IMAGE,
          i === 0 ? [currentKey, 'latest'] : [keyOf(i)],
          {uploadTime: new Date(now.getTime() - 2 * HOUR - i * 60_000)},
        ),
    );
    for (let start = 0; start < pushes.length; start += SEED_CONCURRENCY) {
      await Promise.all(
        pushes.slice(start, start + SEED_CONCURRENCY).map(push => push()),
      );
    }
    standIn.faults.addLatency('all', latencyMs);
    standIn.calls.clear();
  };

  const phase = async (
    policy: typeof DEFAULT_CLEANUP_POLICY,
    concurrency: number,
    limit?: number,
  ): Promise<CleanupPhase & {plan: CleanupPlan}> => {
    const t0 = performance.now();
    const listed = await registry.listVersions(REPOSITORY, IMAGE);
    const t1 = performance.now();
    const plan = planCleanup({versions: listed, currentKey, now}, policy);
    if (limit !== undefined) plan.deletions = plan.deletions.slice(0, limit);
    const t2 = performance.now();
    const result = await applyCleanupPlan(
      registry,
      REPOSITORY,
      IMAGE,
      plan,
      concurrency,
    );
    const t3 = performance.now();
    return {
      plan,
      deletions: plan.deletions.length,
      listMs: t1 - t0,
      planMs: t2 - t1,
      applyMs: t3 - t2,
      totalMs: t3 - t0,
      failed: result.failed.length,
      calls: standIn.calls.all().length,
    };
  };

  const uncapped = {
    ...DEFAULT_CLEANUP_POLICY,
    maxDeletions: Number.POSITIVE_INFINITY,
  };
  try {
    // Warm the channel, so the first figure does not pay for it.
    await seed();
    await registry.listVersions(REPOSITORY, IMAGE);

    await seed();
    const perRun = await phase(DEFAULT_CLEANUP_POLICY, CLEANUP_CONCURRENCY);
    const backlogSize =
      perRun.plan.deletions.length + perRun.plan.deferred.length;

    await seed();
    const backlog = await phase(uncapped, CLEANUP_CONCURRENCY);
    const left = new Set(
      (
        await standIn.store.listVersions({
          ...parse(repositoryName),
          image: IMAGE,
        })
      ).map(v => v.digest),
    );
    const kept = new Set(backlog.plan.kept.map(k => k.digest));
    const leftAsPlanned =
      backlog.failed === 0 &&
      left.size === kept.size &&
      [...kept].every(d => left.has(d));

    await seed();
    const sample = options.fullSerial
      ? undefined
      : Math.min(100, backlog.deletions);
    const serial = await phase(uncapped, 1, sample);
    const perDeletion = serial.applyMs / Math.max(1, serial.deletions);
    const serialMs =
      serial.listMs + serial.planMs + perDeletion * backlog.deletions;

    return {
      versions,
      latencyMs,
      concurrency: CLEANUP_CONCURRENCY,
      perRun: {
        ...strip(perRun),
        runsForBacklog: Math.ceil(
          backlogSize / DEFAULT_CLEANUP_POLICY.maxDeletions,
        ),
      },
      backlog: strip(backlog),
      serialMs,
      serialMeasuredInFull: sample === undefined,
      speedup: serialMs / backlog.totalMs,
      leftAsPlanned,
    };
  } finally {
    standIn.reset();
    await clients.close();
  }
}

function strip<T extends {plan: CleanupPlan}>(phase: T): Omit<T, 'plan'> {
  const {plan: _plan, ...rest} = phase;
  void _plan;
  return rest;
}

function keyOf(i: number): string {
  return i.toString(16).padStart(12, '0').replace(/^0/, 'a');
}

function parse(name: string): {
  projectId: string;
  location: string;
  repositoryId: string;
} {
  const [, projectId, location, repositoryId] =
    /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/.exec(
      name,
    ) ?? [];
  return {projectId, location, repositoryId};
}
