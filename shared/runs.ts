/**
 * `runs/{eventId}`: one record per handled event. It is what an operator watches (ordered
 * step lines ending in an outcome) and the dedupe record for at-least-once delivery.
 */
import {FieldValue, Timestamp} from '@google-cloud/firestore';
import type {
  CollectionReference,
  DocumentReference,
  Firestore,
  Transaction,
} from '@google-cloud/firestore';
import {recordConverter} from './record-converter';
import {DEFAULT_RETRY_POLICY, RetryPolicy, withRetry} from './retry';
import type {Logger} from './log';
import {escapeControlCharacters} from './quote';
import type {RunResult} from './savings';

export const RunKind = [
  'setup',
  'dockerfile-changed',
  'build-finished',
  'teardown',
] as const;
export type RunKind = (typeof RunKind)[number];

export const RunStatus = [
  'running',
  'succeeded',
  'succeeded-with-warnings',
  'failed',
  'refused',
] as const;
export type RunStatus = (typeof RunStatus)[number];

export const FINISHED_RUN_STATUSES: ReadonlySet<RunStatus> = new Set([
  'succeeded',
  'succeeded-with-warnings',
  'failed',
  'refused',
]);

export const StepLevel = ['info', 'ok', 'warn', 'error'] as const;
export type StepLevel = (typeof StepLevel)[number];

export interface RunStep {
  seq: number;
  at: string;
  level: StepLevel;
  text: string;
}

export interface RunRecord {
  id: string;
  kind: RunKind;
  status: RunStatus;
  requestedBy?: string;
  dryRun?: boolean;
  request?: Record<string, unknown>;
  steps: RunStep[];
  deliveries: number;
  startedAt: string;
  finishedAt?: string;
  outcome?: string;
  error?: string;
  /** Ids of other records this run touched, e.g. `build` → `builds/{image}@{key}`. */
  refs?: Record<string, string>;
  /** Messages this run published; their ids are the ids of the runs they start. */
  spawned?: SpawnedRun[];
  /**
   * When Firestore may delete this record: the collection group's TTL policy (deploy
   * creates it) removes runs some time after this. Set when the run begins; records
   * written before runs expired have none and are kept.
   */
  expireAt?: Timestamp;
  /** What a dockerfile-changed run decided, as data (shared/savings.ts). */
  result?: RunResult;
}

/** How long a run record is kept unless RUN_RETENTION_DAYS says otherwise. */
export const DEFAULT_RUN_RETENTION_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The `expireAt` of a run that begins at `startedAt`. */
export function runExpiry(startedAt: Date, retentionDays: number): Timestamp {
  return Timestamp.fromMillis(startedAt.getTime() + retentionDays * DAY_MS);
}

export interface SpawnedRun {
  kind: RunKind;
  messageId: string;
  image?: string;
}

export const RUNS = 'runs';

export const runRecordConverter = recordConverter<RunRecord>([
  'id',
  'kind',
  'status',
]);

/** `runs`, read and written as RunRecords. */
export function runRecords(
  firestore: Firestore,
): CollectionReference<RunRecord> {
  return firestore.collection(RUNS).withConverter(runRecordConverter);
}

/** Firestore document ids cannot contain '/'; Pub/Sub message ids never do, but be safe. */
export function runDocumentId(eventId: string): string {
  return eventId.replace(/\//g, '_');
}

export type BeginResult =
  {kind: 'started'; run: Run} | {kind: 'already-finished'; record: RunRecord};

/**
 * Start (or resume, on redelivery of an unfinished run) the run of an event. A run that
 * already finished is never run again: its event was handled. A new record expires
 * `retentionDays` after it begins (`expireAt`); run records are history, not state.
 */
export async function beginRun(
  firestore: Firestore,
  eventId: string,
  kind: RunKind,
  log: Logger,
  retry: RetryPolicy = DEFAULT_RETRY_POLICY,
  now: () => Date = () => new Date(),
  retentionDays: number = DEFAULT_RUN_RETENTION_DAYS,
): Promise<BeginResult> {
  const ref = runRecords(firestore).doc(runDocumentId(eventId));
  const outcome = await firestore.runTransaction(async (tx: Transaction) => {
    const record = (await tx.get(ref)).data();
    if (record !== undefined) {
      if (FINISHED_RUN_STATUSES.has(record.status)) {
        return {kind: 'already-finished' as const, record};
      }
      const deliveries = (record.deliveries ?? 1) + 1;
      tx.update(ref, {
        deliveries,
        // A run begun before runs expired gets its expiry when it resumes.
        ...(record.expireAt === undefined
          ? {expireAt: runExpiry(now(), retentionDays)}
          : {}),
      });
      const steps = record.steps ?? [];
      const warnings = steps.filter(step => step.level === 'warn').length;
      return {
        kind: 'resumed' as const,
        nextSeq: steps.length,
        warnings,
        deliveries,
      };
    }
    const startedAt = now();
    const created: RunRecord = {
      id: eventId,
      kind,
      status: 'running',
      steps: [],
      deliveries: 1,
      startedAt: startedAt.toISOString(),
      expireAt: runExpiry(startedAt, retentionDays),
    };
    tx.create(ref, created);
    return {kind: 'created' as const};
  });
  if (outcome.kind === 'already-finished') return outcome;
  const run = new Run(
    firestore,
    eventId,
    log.child({runId: eventId, kind}),
    now,
    retry,
  );
  if (outcome.kind === 'resumed') {
    run.resumeAt(outcome.nextSeq, outcome.warnings);
    await run.step(
      'info',
      `Redelivered (delivery ${outcome.deliveries}); resuming`,
    );
  }
  return {kind: 'started', run};
}

/** A run in progress: step lines are written in order as they happen. */
/**
 * A run in progress. Step lines are written behind the handler, in order, coalesced into
 * as few Firestore writes as the pace allows: a watcher still sees each line within
 * milliseconds, and a cache hit does not wait for one write per line. Finishing (and
 * `flush`) waits for every write, and surfaces a failed one.
 */
/**
 * A step line or outcome as it is recorded: one line (control characters escaped, so no
 * value from a message can forge a line of its own) and bounded, so a run record stays
 * far below Firestore's 1 MiB per document. Values from messages are quoted and bounded
 * where they are written (`quote`); this is the backstop.
 */
const MAX_STEP_LENGTH = 2000;
function recordable(text: string): string {
  const line = escapeControlCharacters(text);
  return line.length > MAX_STEP_LENGTH
    ? `${line.slice(0, MAX_STEP_LENGTH)}… (${line.length} characters)`
    : line;
}

export class Run {
  private seq = 0;
  private warnings = 0;
  private readonly ref: DocumentReference;
  private pendingSteps: RunStep[] = [];
  private pendingSpawned: SpawnedRun[] = [];
  private pendingFields: Record<string, unknown> = {};
  private writes: Promise<void> = Promise.resolve();
  private writeFailure: unknown;

  constructor(
    firestore: Firestore,
    readonly id: string,
    readonly log: Logger,
    private readonly now: () => Date,
    private readonly retry: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {
    this.ref = firestore.collection(RUNS).doc(runDocumentId(id));
  }

  resumeAt(seq: number, warnings: number): void {
    this.seq = seq;
    this.warnings = warnings;
  }

  get hasWarnings(): boolean {
    return this.warnings > 0;
  }

  /** Describe what the run is about (request, who asked, dry run) as soon as it is known. */
  async describe(fields: {
    requestedBy?: string;
    dryRun?: boolean;
    request?: object;
  }): Promise<void> {
    Object.assign(this.pendingFields, withoutUndefined({...fields}));
    this.scheduleWrite();
  }

  async link(refs: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(refs)) {
      this.pendingFields[`refs.${key}`] = value;
    }
    this.scheduleWrite();
  }

  /** What the run decided, as data; written with its next step or outcome (no write of its own). */
  async result(result: RunResult): Promise<void> {
    this.pendingFields.result = {...result};
  }

  /** Record a message this run published, so a watcher can follow the run it starts. */
  async spawned(entry: SpawnedRun): Promise<void> {
    this.pendingSpawned.push({...entry});
    this.scheduleWrite();
  }

  async step(level: StepLevel, text: string): Promise<void> {
    if (level === 'warn') this.warnings++;
    const step: RunStep = {
      seq: this.seq++,
      at: this.now().toISOString(),
      level,
      text: recordable(text),
    };
    this.logStep(level, step.text);
    this.pendingSteps.push(step);
    this.scheduleWrite();
  }

  info(text: string): Promise<void> {
    return this.step('info', text);
  }
  ok(text: string): Promise<void> {
    return this.step('ok', text);
  }
  warn(text: string): Promise<void> {
    return this.step('warn', text);
  }

  /** Succeeded, or succeeded with warnings if any step warned. */
  async succeed(outcome: string): Promise<void> {
    await this.finish(
      this.warnings > 0 ? 'succeeded-with-warnings' : 'succeeded',
      outcome,
    );
  }

  async fail(reason: string): Promise<void> {
    await this.step('error', reason);
    await this.finish('failed', reason, reason);
  }

  async refuse(reason: string): Promise<void> {
    await this.step('error', reason);
    await this.finish('refused', reason, reason);
  }

  /** Waits until everything recorded so far is written; throws if a write failed. */
  async flush(): Promise<void> {
    await this.writes;
    if (this.writeFailure !== undefined) {
      const failure = this.writeFailure;
      this.writeFailure = undefined;
      throw failure;
    }
  }

  private async finish(
    status: RunStatus,
    rawOutcome: string,
    rawError?: string,
  ): Promise<void> {
    const outcome = recordable(rawOutcome);
    const error = rawError === undefined ? undefined : recordable(rawError);
    const log =
      status === 'failed' || status === 'refused'
        ? this.log.error
        : this.log.info;
    log(`Run ${status}: ${outcome}`, {status});
    Object.assign(
      this.pendingFields,
      withoutUndefined({
        status,
        outcome,
        error,
        finishedAt: this.now().toISOString(),
      }),
    );
    this.scheduleWrite();
    await this.flush();
  }

  /** Queue a write of whatever is pending; a write already queued takes it all. */
  private scheduleWrite(): void {
    this.writes = this.writes.then(() =>
      this.writePending().catch(error => {
        this.writeFailure ??= error;
      }),
    );
  }

  private async writePending(): Promise<void> {
    if (
      this.pendingSteps.length === 0 &&
      this.pendingSpawned.length === 0 &&
      Object.keys(this.pendingFields).length === 0
    ) {
      return;
    }
    const update: Record<string, unknown> = this.pendingFields;
    this.pendingFields = {};
    if (this.pendingSteps.length > 0) {
      update.steps = FieldValue.arrayUnion(...this.pendingSteps.splice(0));
    }
    if (this.pendingSpawned.length > 0) {
      update.spawned = FieldValue.arrayUnion(...this.pendingSpawned.splice(0));
    }
    await withRetry(() => this.ref.update(update), this.retry);
  }

  private logStep(level: StepLevel, text: string): void {
    const fields = {step: this.seq - 1};
    if (level === 'error') this.log.error(text, fields);
    else if (level === 'warn') this.log.warn(text, fields);
    else this.log.info(text, fields);
  }
}

/**
 * Fields left undefined, dropped before they join the pending update. Firestore's
 * `ignoreUndefinedProperties` would skip them when written, but pending fields are merged
 * in memory first: an undefined there would erase a value still pending under the same
 * name, or schedule a write of nothing.
 */
function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

export async function readRun(
  firestore: Firestore,
  eventId: string,
): Promise<RunRecord | undefined> {
  const snapshot = await runRecords(firestore)
    .doc(runDocumentId(eventId))
    .get();
  return snapshot.data();
}
