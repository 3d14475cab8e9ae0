/**
 * `builds/{image}@{key}`: the idempotency record of one (image, cache key). Exactly one
 * claimant creates the Cloud Build for it; status follows Cloud Build's and never goes back.
 */
import type {
  CollectionReference,
  Firestore,
  Transaction,
} from '@google-cloud/firestore';
import type {Tier} from './catalog';
import {GrpcStatus, grpcCode} from './errors';
import type {LayerReport} from './layer-report';
import {recordConverter} from './record-converter';
import {BuildStatus, isTerminalBuildStatus} from './messages';

export const BUILDS = 'builds';

export type BuildRecordStatus = BuildStatus | 'CLAIMED';

export interface BuildHistoryEntry {
  at: string;
  status: string;
  attempt: number;
  buildId?: string;
  detail?: string;
}

export interface BuildRecord {
  image: string;
  key: string;
  tier: Tier;
  repository: string;
  status: BuildRecordStatus;
  buildId?: string;
  /** Attempts started for this key, and how many failed in a row (the retry cap). */
  attempts: number;
  failuresInRow: number;
  dockerfileHash: string;
  contextDigest?: string;
  source: string;
  parentKey?: string;
  parentDigest?: string;
  /** The run that holds the claim. */
  runId: string;
  claimedAt: string;
  /** Until then an active claim blocks others without a look at Cloud Build. */
  deadline: string;
  startTime?: string;
  finishTime?: string;
  digest?: string;
  logUrl?: string;
  failureDetail?: string;
  /** The catalog's machine type when claimed (what a build-minute of it costs). */
  machineType?: string;
  /** Duplicates that arrived while it was building (shared/savings.ts). */
  joins?: number;
  /** Side effects of a SUCCESS already done, so a redelivery never repeats them. */
  dependentsPublished?: boolean;
  cleanedUp?: boolean;
  /** The key change's layer reuse already counted in stats/savings. */
  layerReuseCounted?: boolean;
  /** How much of a successful build came from the layer cache (shared/layer-report.ts). */
  layers?: LayerReport;
  history: BuildHistoryEntry[];
}

export const buildRecordConverter = recordConverter<BuildRecord>([
  'image',
  'key',
  'status',
]);

/** `builds`, read and written as BuildRecords. */
export function buildRecords(
  firestore: Firestore,
): CollectionReference<BuildRecord> {
  return firestore.collection(BUILDS).withConverter(buildRecordConverter);
}

/**
 * When the successful build finished: Cloud Build's finish time, else when we recorded
 * its SUCCESS; '' if it never succeeded.
 */
function lastSuccessAt(record: BuildRecord): string {
  if (record.status !== 'SUCCESS') return '';
  if (record.finishTime) return new Date(record.finishTime).toISOString();
  const entries = record.history.filter(entry => entry.status === 'SUCCESS');
  return entries.length > 0 ? entries[entries.length - 1].at : '';
}

export function buildRecordId(image: string, key: string): string {
  return `${image}@${key}`;
}

export const ACTIVE_BUILD_STATUSES = [
  'CLAIMED',
  'PENDING',
  'QUEUED',
  'WORKING',
] as const;

export function isActive(status: BuildRecordStatus): boolean {
  return (ACTIVE_BUILD_STATUSES as readonly string[]).includes(status);
}

export function isFailed(status: BuildRecordStatus): boolean {
  return status !== 'SUCCESS' && isTerminalBuildStatus(status);
}

/** Status order: a build never moves back (a WORKING after SUCCESS changes nothing). */
export function statusRank(status: BuildRecordStatus): number {
  switch (status) {
    case 'CLAIMED':
    case 'STATUS_UNKNOWN':
      return 0;
    case 'PENDING':
    case 'QUEUED':
      return 1;
    case 'WORKING':
      return 2;
    default:
      return 3;
  }
}

// Time a claimant has between claiming and recording its build id, before others check.
const CLAIM_GRACE_MS = 10 * 60_000;

export interface ClaimRequest {
  image: string;
  key: string;
  tier: Tier;
  repository: string;
  dockerfileHash: string;
  contextDigest?: string;
  source: string;
  parentKey?: string;
  parentDigest?: string;
  machineType?: string;
  runId: string;
  maxAttempts: number;
  force: boolean;
  /**
   * When the caller saw the image's tag missing. A SUCCESS recorded after that moment is
   * a build that finished meanwhile (a duplicate's), not an image that has since gone.
   */
  checkedAbsentAt?: Date;
  now: Date;
}

export type ClaimOutcome =
  /** This run must start the build. `resumed`: it claimed before, a build may exist. */
  | {kind: 'claimed'; record: BuildRecord; resumed: boolean}
  /** Another run's build is underway. */
  | {kind: 'building'; record: BuildRecord}
  /** An active claim past its deadline: check Cloud Build before it blocks anything. */
  | {kind: 'stale'; record: BuildRecord}
  /** Failed too often in a row; only `force` tries again. */
  | {kind: 'exhausted'; record: BuildRecord}
  /** Built successfully after the caller looked: nothing to do. */
  | {kind: 'built'; record: BuildRecord};

/** Claim (image, key) in a transaction; exactly one concurrent caller gets `claimed`. */
export async function claimBuild(
  firestore: Firestore,
  request: ClaimRequest,
): Promise<ClaimOutcome> {
  const ref = buildRecords(firestore).doc(
    buildRecordId(request.image, request.key),
  );
  // Most duplicates arrive while the build runs: a plain read answers them without
  // contending for the transaction that only a claimable record needs.
  const activeElsewhere = (record: BuildRecord) =>
    isActive(record.status) &&
    record.runId !== request.runId &&
    record.deadline > request.now.toISOString();
  let seen = (await ref.get()).data();
  if (seen === undefined) {
    // The first claim of a key is an atomic create, not a transaction: a storm of
    // duplicates arrives before any record exists, and in transactions they would all
    // lock the same document and wait on each other until Firestore aborts them.
    const record = claimRecord(request);
    try {
      await ref.create(record);
      return {kind: 'claimed', record, resumed: false};
    } catch (error) {
      if (grpcCode(error) !== GrpcStatus.ALREADY_EXISTS) throw error;
      seen = (await ref.get()).data();
    }
  }
  if (seen !== undefined && activeElsewhere(seen)) {
    return {kind: 'building', record: seen};
  }
  return firestore.runTransaction(
    async (tx: Transaction): Promise<ClaimOutcome> => {
      const record = (await tx.get(ref)).data();
      const at = request.now.toISOString();
      if (record === undefined) {
        const created = claimRecord(request);
        tx.create(ref, created);
        return {kind: 'claimed', record: created, resumed: false};
      }
      if (record.status === 'CLAIMED' && record.runId === request.runId) {
        return {kind: 'claimed', record, resumed: true};
      }
      if (isActive(record.status)) {
        return record.deadline > at
          ? {kind: 'building', record}
          : {kind: 'stale', record};
      }
      if (
        record.status === 'SUCCESS' &&
        !request.force &&
        request.checkedAbsentAt !== undefined &&
        lastSuccessAt(record) >= request.checkedAbsentAt.toISOString()
      ) {
        return {kind: 'built', record};
      }
      if (
        isFailed(record.status) &&
        record.failuresInRow >= request.maxAttempts &&
        !request.force
      ) {
        return {kind: 'exhausted', record};
      }
      // A failed attempt (under the cap), a forced rebuild, or a SUCCESS whose image is gone.
      const next = claimRecord(request, record);
      tx.set(ref, next);
      return {kind: 'claimed', record: next, resumed: false};
    },
  );
}

/** Take over a claim whose holder never recorded a build (it crashed in between). */
export async function takeOverClaim(
  firestore: Firestore,
  image: string,
  key: string,
  runId: string,
  now: Date,
): Promise<BuildRecord | null> {
  const ref = buildRecords(firestore).doc(buildRecordId(image, key));
  return firestore.runTransaction(async tx => {
    const snapshot = await tx.get(ref);
    const record = snapshot.data();
    if (
      !record ||
      record.status !== 'CLAIMED' ||
      record.deadline > now.toISOString()
    ) {
      return null;
    }
    const at = now.toISOString();
    const next: BuildRecord = {
      ...record,
      runId,
      claimedAt: at,
      deadline: new Date(now.getTime() + CLAIM_GRACE_MS).toISOString(),
      history: [
        ...record.history,
        {at, status: 'CLAIMED', attempt: record.attempts, detail: 'taken over'},
      ],
    };
    tx.set(ref, next);
    return next;
  });
}

/** The history entry's detail when the claimant recorded its build as started. */
const STARTED_DETAIL = 'started';

/** The claimant started its build: record the id, and how long it may run. */
export async function recordBuildStarted(
  firestore: Firestore,
  image: string,
  key: string,
  build: {buildId: string; logUrl?: string; timeoutSeconds: number; now: Date},
): Promise<void> {
  const ref = buildRecords(firestore).doc(buildRecordId(image, key));
  await firestore.runTransaction(async tx => {
    const snapshot = await tx.get(ref);
    const record = snapshot.data();
    if (!record) return;
    // Cloud Build's own notification may already have moved it on; never move it back.
    const update: Partial<BuildRecord> = {
      buildId: build.buildId,
      deadline: new Date(
        build.now.getTime() + (build.timeoutSeconds + 600) * 1000,
      ).toISOString(),
    };
    if (build.logUrl) update.logUrl = build.logUrl;
    if (record.status === 'CLAIMED') {
      update.status = 'QUEUED';
      update.history = [
        ...record.history,
        {
          at: build.now.toISOString(),
          status: 'QUEUED',
          attempt: record.attempts,
          buildId: build.buildId,
          detail: STARTED_DETAIL,
        },
      ];
    }
    tx.update(ref, update);
  });
}

export interface BuildUpdate {
  buildId: string;
  status: BuildStatus;
  /** The attempt the build was started for (its `arr-attempt-N` tag). */
  attempt?: number;
  startTime?: string;
  finishTime?: string;
  digest?: string;
  logUrl?: string;
  failureDetail?: string;
  layers?: LayerReport;
}

export type BuildUpdateOutcome =
  | {kind: 'applied'; record: BuildRecord; previous: BuildRecordStatus}
  | {kind: 'unchanged'; record: BuildRecord; reason: string}
  /** QUEUED, as the claimant recorded it when it started the build: the ordinary path. */
  | {kind: 'as-started'; record: BuildRecord}
  | {kind: 'unknown'};

/** Apply Cloud Build's answer to the record, forward only; another attempt's build changes nothing. */
export async function applyBuildUpdate(
  firestore: Firestore,
  image: string,
  key: string,
  update: BuildUpdate,
  now: Date = new Date(),
): Promise<BuildUpdateOutcome> {
  const ref = buildRecords(firestore).doc(buildRecordId(image, key));
  return firestore.runTransaction(async (tx): Promise<BuildUpdateOutcome> => {
    const snapshot = await tx.get(ref);
    const record = snapshot.data();
    if (record === undefined) return {kind: 'unknown'};
    const ours =
      record.buildId === update.buildId ||
      (record.buildId === undefined && update.attempt === record.attempts);
    if (!ours) {
      return {
        kind: 'unchanged',
        record,
        reason: `build ${update.buildId} is not the current attempt (${record.buildId ?? 'none yet'})`,
      };
    }
    if (update.status === record.status) {
      const last = record.history[record.history.length - 1];
      return last?.status === record.status &&
        last.buildId === update.buildId &&
        last.detail === STARTED_DETAIL
        ? {kind: 'as-started', record}
        : {kind: 'unchanged', record, reason: 'already recorded'};
    }
    if (statusRank(update.status) <= statusRank(record.status)) {
      return {
        kind: 'unchanged',
        record,
        reason: `${update.status} after ${record.status}: an older answer, and a status never goes back`,
      };
    }
    const next: BuildRecord = {
      ...record,
      status: update.status,
      buildId: update.buildId,
      startTime: update.startTime ?? record.startTime,
      finishTime: update.finishTime ?? record.finishTime,
      digest: update.digest ?? record.digest,
      logUrl: update.logUrl ?? record.logUrl,
      failureDetail: update.failureDetail ?? record.failureDetail,
      layers: update.layers ?? record.layers,
      failuresInRow:
        update.status === 'SUCCESS'
          ? 0
          : isFailed(update.status)
            ? record.failuresInRow + 1
            : record.failuresInRow,
      history: [
        ...record.history,
        {
          at: now.toISOString(),
          status: update.status,
          attempt: record.attempts,
          buildId: update.buildId,
          ...(update.failureDetail ? {detail: update.failureDetail} : {}),
        },
      ],
    };
    tx.set(ref, next);
    return {kind: 'applied', record: next, previous: record.status};
  });
}

export async function markBuildSideEffect(
  firestore: Firestore,
  image: string,
  key: string,
  effect: 'dependentsPublished' | 'cleanedUp' | 'layerReuseCounted',
): Promise<void> {
  await firestore
    .collection(BUILDS)
    .doc(buildRecordId(image, key))
    .update({[effect]: true});
}

export async function readBuildRecord(
  firestore: Firestore,
  image: string,
  key: string,
): Promise<BuildRecord | undefined> {
  const snapshot = await buildRecords(firestore)
    .doc(buildRecordId(image, key))
    .get();
  return snapshot.data();
}

/** Builds that may still push into a repository. */
export async function activeBuildsInto(
  firestore: Firestore,
  repository: string,
): Promise<BuildRecord[]> {
  const snapshot = await buildRecords(firestore)
    .where('repository', '==', repository)
    .where('status', 'in', [...ACTIVE_BUILD_STATUSES])
    .get();
  return snapshot.docs.map(d => d.data());
}

/** A new claim's record: the first for its key, or the attempt after `previous`. */
function claimRecord(
  request: ClaimRequest,
  previous?: BuildRecord,
): BuildRecord {
  const at = request.now.toISOString();
  const attempts = (previous?.attempts ?? 0) + 1;
  return {
    image: request.image,
    key: request.key,
    tier: request.tier,
    repository: request.repository,
    status: 'CLAIMED',
    attempts,
    failuresInRow: previous && !request.force ? previous.failuresInRow : 0,
    dockerfileHash: request.dockerfileHash,
    contextDigest: request.contextDigest,
    source: request.source,
    parentKey: request.parentKey,
    parentDigest: request.parentDigest,
    machineType: request.machineType,
    joins: previous?.joins,
    runId: request.runId,
    claimedAt: at,
    deadline: new Date(request.now.getTime() + CLAIM_GRACE_MS).toISOString(),
    history: [
      ...(previous?.history ?? []),
      {at, status: 'CLAIMED', attempt: attempts},
    ],
  };
}
