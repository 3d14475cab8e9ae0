/**
 * The `--json` output of `arr`: stable shapes for scripts, documented in the
 * README. Fields are only ever added; `schemaVersion` changes if one is
 * removed or changes meaning. Absent values are `null`, never missing.
 */
import type {BuildRecord} from '../shared/build-records';
import type {ManifestEntry} from '../shared/manifest';
import type {RepositoryRecord} from '../shared/repository-records';
import type {RunRecord, RunStep} from '../shared/runs';
import type {SavingsTotals} from '../shared/savings';

export const SCHEMA_VERSION = 1;

export interface RepositoryImageView {
  image: string;
  tags: string[];
  digest: string;
  sizeBytes: number;
  uploadTime: string;
}

export interface RepositoryView {
  id: string;
  tier: 'persistent' | 'ephemeral';
  /** Live, from Artifact Registry: does it exist now? null if it could not be asked. */
  exists: boolean | null;
  /** What setup/teardown last recorded: present, misconfigured, missing, deleted; null if never. */
  state: string | null;
  format: string | null;
  location: string | null;
  labels: Record<string, string>;
  images: RepositoryImageView[];
  imageCount: number;
  sizeBytes: number;
  warnings: string[];
  verifiedAt: string | null;
  /**
   * Live: versions of persistent-tier images that only this repository holds (the
   * migration window); teardown refuses to delete it while any is listed.
   */
  onlyCopies: OnlyCopyView[];
}

export interface OnlyCopyView {
  image: string;
  digest: string;
  sizeBytes: number;
  tags: string[];
}

export interface ImageView {
  image: string;
  tier: string;
  repository: string;
  present: boolean;
  key: string | null;
  digest: string | null;
  dockerfileHash: string | null;
  contextDigest: string | null;
  builtAt: string | null;
  buildId: string | null;
  origin: string | null;
}

export interface BuildView {
  id: string;
  image: string;
  key: string;
  status: string;
  buildId: string | null;
  attempts: number;
  repository: string;
  claimedAt: string | null;
  startTime: string | null;
  finishTime: string | null;
  durationSeconds: number | null;
  /** Of a successful build: instructions whose layer came from the cache, and those that ran. */
  layersCached: number | null;
  layersBuilt: number | null;
  /** Whether its layer cache source could be read: used, missing, not-asked. */
  cacheImport: string | null;
  logUrl: string | null;
  failureDetail: string | null;
  digest: string | null;
  /** Live, from Cloud Build, while the build is active; null otherwise or if unknown. */
  progress: BuildProgressView | null;
}

/** Where a running build is (cli/build-progress.ts). */
export interface BuildProgressView {
  /** Cloud Build's status of the build: QUEUED, WORKING… */
  status: string;
  /** The running step, from 1; null while none runs (queued). */
  step: number | null;
  steps: number;
  /** The running step's id in the build config, else its builder image. */
  stepLabel: string | null;
  /** When the build started WORKING; null while queued. */
  startTime: string | null;
  /** How long it has been WORKING when this was read. */
  elapsedSeconds: number | null;
  /** How long the last successful build of the image took; null: no earlier build. */
  expectedSeconds: number | null;
}

export interface RunSummaryView {
  id: string;
  kind: string;
  status: string;
  requestedBy: string | null;
  dryRun: boolean | null;
  image: string | null;
  startedAt: string;
  finishedAt: string | null;
  outcome: string | null;
  error: string | null;
  /** When Firestore may delete the record (RUN_RETENTION_DAYS after it began); null: kept. */
  expiresAt: string | null;
}

export interface RunView extends RunSummaryView {
  steps: RunStep[];
  refs: Record<string, string>;
  spawned: Array<{kind: string; messageId: string; image: string | null}>;
}

export interface StatusView {
  schemaVersion: number;
  project: string;
  region: string;
  repositories: RepositoryView[];
  images: ImageView[];
  builds: BuildView[];
  runs: RunSummaryView[];
  /** Over the recorded history (stats/savings): what the cache saved. */
  savings: SavingsView;
}

export interface SavingsView extends SavingsTotals {
  rates: {
    source: string;
    lookedUp: string;
    /** Machine types whose rate BUILD_MINUTE_RATES set. */
    overridden: string[];
  };
}

export interface RunsView {
  schemaVersion: number;
  runs: RunSummaryView[];
}

export interface PublishView {
  schemaVersion: number;
  topic: string;
  messageId: string;
  /** False with --no-wait: only published. */
  waited: boolean;
  /** The started run's status; null with --no-wait. */
  status: string | null;
  outcome: string | null;
  exitCode: number;
  problems: Array<{id: string; kind: string; label: string; detail: string}>;
  /** The started run first, then every run it led to. */
  runs: RunView[];
  builds: BuildView[];
}

const orNull = <T>(value: T | undefined): T | null =>
  value === undefined ? null : value;

export function runSummaryView(record: RunRecord): RunSummaryView {
  const image = record.request?.image;
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    requestedBy: orNull(record.requestedBy),
    dryRun: orNull(record.dryRun),
    image: typeof image === 'string' ? image : null,
    startedAt: record.startedAt,
    finishedAt: orNull(record.finishedAt),
    outcome: orNull(record.outcome),
    error: orNull(record.error),
    expiresAt: timestampText(record.expireAt),
  };
}

/** A Firestore Timestamp (or anything with toDate) as ISO 8601. */
function timestampText(value: unknown): string | null {
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as {toDate?: unknown}).toDate === 'function'
  ) {
    const date = (value as {toDate(): Date}).toDate();
    return Number.isFinite(date.getTime()) ? date.toISOString() : null;
  }
  return null;
}

export function runView(record: RunRecord): RunView {
  return {
    ...runSummaryView(record),
    steps: [...(record.steps ?? [])]
      .sort((a, b) => a.seq - b.seq)
      .map(({seq, at, level, text}) => ({seq, at, level, text})),
    refs: {...(record.refs ?? {})},
    spawned: (record.spawned ?? []).map(s => ({
      kind: s.kind,
      messageId: s.messageId,
      image: orNull(s.image),
    })),
  };
}

export function buildView(
  id: string,
  record: BuildRecord,
  progress: BuildProgressView | null = null,
): BuildView {
  return {
    id,
    image: record.image,
    key: record.key,
    status: record.status,
    buildId: orNull(record.buildId),
    attempts: record.attempts ?? 0,
    repository: record.repository,
    claimedAt: orNull(record.claimedAt),
    startTime: orNull(record.startTime),
    finishTime: orNull(record.finishTime),
    durationSeconds: durationSeconds(record.startTime, record.finishTime),
    logUrl: orNull(record.logUrl),
    failureDetail: orNull(record.failureDetail),
    digest: orNull(record.digest),
    layersCached: record.layers?.cached ?? null,
    layersBuilt: record.layers?.built ?? null,
    cacheImport: record.layers?.cacheImport ?? null,
    progress,
  };
}

export function imageView(entry: ManifestEntry): ImageView {
  return {
    image: entry.image,
    tier: entry.tier,
    repository: entry.repository,
    present: entry.present === true,
    key: orNull(entry.key),
    digest: orNull(entry.digest),
    dockerfileHash: orNull(entry.dockerfileHash),
    contextDigest: orNull(entry.contextDigest),
    builtAt: orNull(entry.builtAt),
    buildId: orNull(entry.buildId),
    origin: orNull(entry.origin),
  };
}

export function repositoryRecordFields(
  record: RepositoryRecord | undefined,
): Pick<RepositoryView, 'state' | 'warnings' | 'verifiedAt'> {
  return {
    state: record?.state ?? null,
    warnings: record?.warnings ?? [],
    verifiedAt: record?.verifiedAt ?? null,
  };
}

export function durationSeconds(
  start: string | undefined,
  finish: string | undefined,
): number | null {
  if (!start || !finish) return null;
  const ms = Date.parse(finish) - Date.parse(start);
  return Number.isFinite(ms) ? Math.round(ms / 100) / 10 : null;
}
