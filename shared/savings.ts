/**
 * What the cache saved, counted where it happens and kept durably: `stats/savings`, one
 * document, incremented (FieldValue.increment, no transaction) by every dockerfile-changed
 * decision. Run records may expire; these counters do not.
 *
 * - requested: decisions made (cache hit, duplicate absorbed, build started, adoption);
 *   a dependent waiting for its parent is not one (it is requested again when published);
 * - started, cacheHits, joined (duplicates absorbed: the key was building or had just
 *   been built), adopted (pushed outside the control plane);
 * - avoidedBuildSeconds (and by machine type): each avoided build at the recorded duration
 *   of the build that produced the image it reused, when that is known at the decision;
 * - a duplicate of a build still running cannot know that duration yet: it increments
 *   `joins` on that build's record (`builds/{image}@{key}`), and readers count
 *   joins × the record's duration once it has one (`savingsTotals`);
 * - avoidedWithoutDuration: avoided builds whose producing build's time is unknown (an
 *   adopted image, or one built before durations were recorded).
 *
 * Counting is at least once: a delivery that dies after counting and is redelivered
 * counts again (rare; the figures are an estimate).
 */
import {
  type DocumentReference,
  FieldValue,
  type Firestore,
} from '@google-cloud/firestore';
import {type BuildRecord, buildRecordId, buildRecords} from './build-records';
import {buildCostUsd} from './build-rates';
import {recordConverter} from './record-converter';

export const STATS = 'stats';
export const SAVINGS = 'savings';

export type DecisionKind = 'cache-hit' | 'built' | 'joined' | 'adopted';

/** The structured result a dockerfile-changed run records (`runs/{id}.result`). */
export interface RunResult {
  kind: DecisionKind | 'waiting';
  image: string;
  key?: string;
  buildId?: string;
  /** For a cache hit or a join: the build whose image was reused, as far as known. */
  reused?: {buildId?: string; seconds?: number; machineType?: string};
}

export interface Decision {
  kind: DecisionKind;
  image: string;
  machineType: string;
  /** Duration of the build whose image this reuses, when known now. */
  reusedSeconds?: number;
  /** A duplicate of this build record, still running: counted from its record later. */
  joinedBuild?: {image: string; key: string};
}

const COUNTER: Record<DecisionKind, string> = {
  'cache-hit': 'cacheHits',
  built: 'started',
  joined: 'joined',
  adopted: 'adopted',
};

export interface SavingsCounters {
  requested?: number;
  started?: number;
  cacheHits?: number;
  joined?: number;
  adopted?: number;
  avoidedBuildSeconds?: number;
  avoidedSecondsByMachine?: Record<string, number>;
  avoidedWithoutDuration?: number;
  /** Builds of a changed key that took layers from the cache, and the build time that saved. */
  layerReuseBuilds?: number;
  layerReuseSeconds?: number;
  images?: Record<string, Partial<Record<string, number>>>;
  updatedAt?: string;
}

/** `stats/savings`: every counter is optional (absent until first incremented). */
export const savingsCountersConverter = recordConverter<SavingsCounters>([]);

/** `stats/savings`, read as SavingsCounters. */
export function savingsCounters(
  firestore: Firestore,
): DocumentReference<SavingsCounters> {
  return firestore
    .collection(STATS)
    .doc(SAVINGS)
    .withConverter(savingsCountersConverter);
}

/** One decision, counted in one commit. */
export async function countDecision(
  firestore: Firestore,
  decision: Decision,
  now: Date = new Date(),
): Promise<void> {
  const inc = (n: number) => FieldValue.increment(n);
  const counter = COUNTER[decision.kind];
  const top: Record<string, unknown> = {
    requested: inc(1),
    [counter]: inc(1),
    updatedAt: now.toISOString(),
  };
  const image: Record<string, unknown> = {requested: inc(1), [counter]: inc(1)};
  const avoided = decision.kind === 'cache-hit' || decision.kind === 'joined';
  if (avoided && decision.reusedSeconds !== undefined) {
    const seconds = decision.reusedSeconds;
    top.avoidedBuildSeconds = inc(seconds);
    top.avoidedSecondsByMachine = {[decision.machineType]: inc(seconds)};
    image.avoidedBuildSeconds = inc(seconds);
  } else if (avoided && decision.joinedBuild === undefined) {
    top.avoidedWithoutDuration = inc(1);
  }
  top.images = {[decision.image]: image};
  const batch = firestore.batch();
  batch.set(firestore.collection(STATS).doc(SAVINGS), top, {merge: true});
  if (avoided && decision.reusedSeconds === undefined && decision.joinedBuild) {
    const {image: name, key} = decision.joinedBuild;
    batch.update(buildRecords(firestore).doc(buildRecordId(name, key)), {
      joins: inc(1),
    });
  }
  await batch.commit();
}

/**
 * A key change's build that took layers from the cache: what it did not cost is the image's
 * last cold build (nothing from the cache) less this build, never below zero. The estimate
 * is only made against a cold build of the same image.
 */
export function layerReuseSaving(
  build: Pick<BuildRecord, 'startTime' | 'finishTime' | 'layers'>,
  lastColdBuildSeconds: number | undefined,
): number | undefined {
  const seconds = buildSeconds(build);
  if (!build.layers || build.layers.cached === 0) return undefined;
  if (seconds === undefined || lastColdBuildSeconds === undefined)
    return undefined;
  return Math.max(0, lastColdBuildSeconds - seconds);
}

/** Counts one key change's layer reuse (build-finished does, once per build). */
export async function countLayerReuse(
  firestore: Firestore,
  image: string,
  savedSeconds: number,
  now: Date = new Date(),
): Promise<void> {
  const inc = (n: number) => FieldValue.increment(n);
  await firestore
    .collection(STATS)
    .doc(SAVINGS)
    .set(
      {
        layerReuseBuilds: inc(1),
        layerReuseSeconds: inc(savedSeconds),
        images: {[image]: {layerReuseSeconds: inc(savedSeconds)}},
        updatedAt: now.toISOString(),
      },
      {merge: true},
    );
}

/**
 * How long the image's most recent successful build that `accept` takes took (Cloud Build's
 * start to finish, as its build record keeps them); undefined when none did.
 */
export async function latestBuildSeconds(
  firestore: Firestore,
  image: string,
  accept: (record: BuildRecord) => boolean = () => true,
): Promise<number | undefined> {
  // Equality filters only: served by the single-field indexes, no composite index to deploy.
  const snapshot = await buildRecords(firestore)
    .where('image', '==', image)
    .where('status', '==', 'SUCCESS')
    .get();
  let latest: {finishTime: string; seconds: number} | undefined;
  for (const doc of snapshot.docs) {
    const record = doc.data();
    const seconds = buildSeconds(record);
    if (seconds === undefined || record.finishTime === undefined) continue;
    if (!accept(record)) continue;
    if (latest === undefined || record.finishTime > latest.finishTime) {
      latest = {finishTime: record.finishTime, seconds};
    }
  }
  return latest?.seconds;
}

/** The duration of the image's most recent successful build that took nothing from the cache. */
export function lastColdBuildSeconds(
  firestore: Firestore,
  image: string,
): Promise<number | undefined> {
  return latestBuildSeconds(
    firestore,
    image,
    record => record.layers?.cached === 0,
  );
}

/** A build record's duration in seconds, from Cloud Build's start and finish times. */
export function buildSeconds(
  record: Pick<BuildRecord, 'startTime' | 'finishTime'>,
): number | undefined {
  if (!record.startTime || !record.finishTime) return undefined;
  const ms = Date.parse(record.finishTime) - Date.parse(record.startTime);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

export interface SavingsTotals {
  requested: number;
  started: number;
  avoided: number;
  cacheHits: number;
  duplicatesAbsorbed: number;
  adopted: number;
  buildSecondsAvoided: number;
  /** Avoided builds whose producing build's time is not known (yet). */
  avoidedWithoutDuration: number;
  /** Builds of changed keys that took layers from the cache, and the build time that saved. */
  layerReuse: {builds: number; buildSecondsSaved: number};
  estimatedCostAvoidedUsd: number;
  byMachineType: Array<{
    machineType: string;
    buildSecondsAvoided: number;
    usdPerMinute: number | null;
    estimatedCostUsd: number | null;
  }>;
  perImage: Array<{
    image: string;
    requested: number;
    started: number;
    avoided: number;
    buildSecondsAvoided: number;
  }>;
}

/**
 * The counters, plus the duplicates that joined a running build, each at its build's
 * recorded duration; costs at `rates` (USD per build-minute).
 */
export async function readSavings(
  firestore: Firestore,
  rates: Readonly<Record<string, number>>,
  machineTypeOf: (image: string) => string | undefined,
): Promise<SavingsTotals> {
  const [counters, joined] = await Promise.all([
    savingsCounters(firestore).get(),
    buildRecords(firestore).where('joins', '>', 0).get(),
  ]);
  return savingsTotals(
    counters.data() ?? {},
    joined.docs.map(d => d.data()),
    rates,
    machineTypeOf,
  );
}

export function savingsTotals(
  counters: SavingsCounters,
  joinedRecords: ReadonlyArray<BuildRecord & {joins?: number}>,
  rates: Readonly<Record<string, number>>,
  machineTypeOf: (image: string) => string | undefined,
): SavingsTotals {
  const byMachine = new Map<string, number>(
    Object.entries(counters.avoidedSecondsByMachine ?? {}),
  );
  const perImageSeconds = new Map<string, number>(
    Object.entries(counters.images ?? {}).map(([image, c]) => [
      image,
      c.avoidedBuildSeconds ?? 0,
    ]),
  );
  let withoutDuration = counters.avoidedWithoutDuration ?? 0;
  for (const record of joinedRecords) {
    const joins = record.joins ?? 0;
    const seconds =
      record.status === 'SUCCESS' ? buildSeconds(record) : undefined;
    if (seconds === undefined) {
      withoutDuration += joins;
      continue;
    }
    const machine =
      record.machineType ?? machineTypeOf(record.image) ?? 'UNSPECIFIED';
    byMachine.set(machine, (byMachine.get(machine) ?? 0) + joins * seconds);
    perImageSeconds.set(
      record.image,
      (perImageSeconds.get(record.image) ?? 0) + joins * seconds,
    );
  }
  const byMachineType = [...byMachine.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([machineType, seconds]) => {
      const cost = buildCostUsd(seconds, machineType, rates);
      return {
        machineType,
        buildSecondsAvoided: seconds,
        usdPerMinute: rates[machineType] ?? null,
        estimatedCostUsd: cost ?? null,
      };
    });
  const cacheHits = counters.cacheHits ?? 0;
  const joinedCount = counters.joined ?? 0;
  return {
    requested: counters.requested ?? 0,
    started: counters.started ?? 0,
    avoided: cacheHits + joinedCount,
    cacheHits,
    duplicatesAbsorbed: joinedCount,
    adopted: counters.adopted ?? 0,
    buildSecondsAvoided: byMachineType.reduce(
      (sum, m) => sum + m.buildSecondsAvoided,
      0,
    ),
    avoidedWithoutDuration: withoutDuration,
    layerReuse: {
      builds: counters.layerReuseBuilds ?? 0,
      buildSecondsSaved: counters.layerReuseSeconds ?? 0,
    },
    estimatedCostAvoidedUsd: byMachineType.reduce(
      (sum, m) => sum + (m.estimatedCostUsd ?? 0),
      0,
    ),
    byMachineType,
    perImage: Object.entries(counters.images ?? {})
      .map(([image, c]) => ({
        image,
        requested: c.requested ?? 0,
        started: c.started ?? 0,
        avoided: (c.cacheHits ?? 0) + (c.joined ?? 0),
        buildSecondsAvoided: perImageSeconds.get(image) ?? 0,
      }))
      .sort((a, b) => a.image.localeCompare(b.image)),
  };
}
