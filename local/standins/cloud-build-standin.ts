/**
 * A local Cloud Build (google.devtools.cloudbuild.v1.CloudBuild) served over gRPC, for the
 * official `@google-cloud/cloudbuild` client. With a Docker engine a build runs for real
 * (build-runner.ts: its source, its docker steps, its pushes, each step's status as it goes);
 * without one it is simulated: it waits in QUEUED, then WORKING (its steps reported one after
 * another, simulated-steps.ts), then pushes a small real image per `build.images` reference into the
 * Artifact Registry stand-in's registry.
 * Every status change is published as Cloud Build publishes it.
 */
import {randomUUID} from 'node:crypto';
import {grpc} from 'google-gax';
import type {ArtifactStore} from './artifact-store';
import {
  type BuildNotificationSink,
  NotificationFaults,
  type BuildNotificationAttributes,
} from './build-notifications';
import {parseBuildFilter} from './build-filter';
import {
  type FetchStorageSource,
  type RunOutcome,
  runBuild,
  type StepState,
} from './build-runner';
import {
  applySubstitutions,
  type SubstitutionScope,
} from './build-substitutions';
import {type DockerEngine, removeEngineImages} from './docker-engine';
import {pushBuildImages} from './build-push';
import {
  type BuildStatus,
  FORCEABLE_BUILD_STATUSES,
  type ForceableBuildStatus,
} from './build-status';
import {isTerminalBuildStatus} from '../../shared/messages';
import {failedPrecondition, invalidArgument, notFound} from './grpc-errors';
import {unary} from './grpc-server';
import {GrpcStandIn} from './grpc-stand-in';
import type {WireOperation} from './long-running';
import {pageRequest, paginate} from './pagination';
import {type JsonValue, loadCloudBuildProtos} from './proto-loading';
import {
  messageField,
  type ProtoObject,
  stringField,
  stringListField,
  stringMapField,
} from './request-fields';
import {simulatedSteps} from './simulated-steps';
import {toWireDuration, toWireTimestamp} from './wire-time';

/** The methods served (plus `google.longrunning.Operations/GetOperation`). */
export const CloudBuildMethod = [
  'CreateBuild',
  'GetBuild',
  'ListBuilds',
  'CancelBuild',
  'GetOperation',
] as const;
export type CloudBuildMethod = (typeof CloudBuildMethod)[number];

const SERVICE = 'google.devtools.cloudbuild.v1.CloudBuild';
const BUILD_TYPE = 'google.devtools.cloudbuild.v1.Build';
const BUILD_METADATA_TYPE =
  'google.devtools.cloudbuild.v1.BuildOperationMetadata';

/** Fields of `Build` that only the service sets; ignored when a client sends them. */
const OUTPUT_ONLY_FIELDS = [
  'name',
  'id',
  'projectId',
  'status',
  'statusDetail',
  'results',
  'createTime',
  'startTime',
  'finishTime',
  'sourceProvenance',
  'buildTriggerId',
  'logUrl',
  'timing',
  'approval',
  'warnings',
  'failureInfo',
];

const BUILD_TAG = /^[\w][\w.-]{0,127}$/;
const SUBSTITUTION_KEY = /^_[A-Z0-9_]+$/;
const DEFAULT_TIMEOUT_MS = 600_000;
const DEFAULT_QUEUE_TTL_MS = 3_600_000;

export interface BuildDurations {
  /** Time spent QUEUED before WORKING. */
  queuedMs: number;
  /** Time spent WORKING before the terminal status. */
  workingMs: number;
}

export const DEFAULT_BUILD_DURATIONS: BuildDurations = {
  queuedMs: 50,
  workingMs: 100,
};

export interface CloudBuildStandInOptions {
  /** Where pushed images go: the Artifact Registry stand-in's store. */
  artifactStore: ArtifactStore;
  /** Where status notifications go (e.g. a PubSubNotificationSink). */
  notificationSink: BuildNotificationSink;
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  buildDurations?: Partial<BuildDurations>;
  /** Seed of the generator used by probabilistic faults. */
  faultSeed?: number;
  /** Runs builds for real on this engine; without it, builds are simulated. */
  engine?: DockerEngine;
  /** Where real builds read `source.storageSource` from. */
  fetchSource?: FetchStorageSource;
  /** Environment for every real build step (e.g. DOCKER_HOST). */
  stepEnvironment?: Readonly<Record<string, string>>;
  /**
   * The registry real builds push to. A Cloud Build worker is discarded after its build; here
   * the engine stays, so stop() removes the engine's images of this registry.
   */
  registryHost?: string;
}

/** How many lines of each real build's log are kept (`buildLog`). */
const KEPT_LOG_LINES = 2000;

/** A notification as the stand-in delivered it (after duplicate/out-of-order faults). */
export interface DeliveredNotification {
  attributes: BuildNotificationAttributes;
  /** The Build resource as Cloud Build's JSON. */
  build: JsonValue;
}

export interface NotificationFailure {
  attributes: BuildNotificationAttributes;
  error: string;
}

interface PendingNotification {
  attributes: BuildNotificationAttributes;
  build: JsonValue;
}

interface BuildRecord {
  id: string;
  projectId: string;
  location: string;
  status: BuildStatus;
  /** The Build as the client sent it, without output-only fields. */
  request: ProtoObject;
  images: string[];
  tags: string[];
  createTime: Date;
  startTime?: Date;
  finishTime?: Date;
  statusDetail?: string;
  failureInfo?: {type: string; detail: string};
  results?: object;
  timing: Record<string, {startTime: Date; endTime: Date}>;
  /** Each step's status and timing, as a real build reports them. */
  steps: readonly StepState[];
  /** Aborts a real build's running step (reason TIMEOUT or CANCELLED). */
  abort?: AbortController;
  log: string[];
  /** How long it stays WORKING (the durations when it was created), spread over its steps. */
  workingMs: number;
  forced?: {status: ForceableBuildStatus; detail?: string};
  operationName: string;
  timers: NodeJS.Timeout[];
  held: PendingNotification[];
  finished: Promise<void>;
  markFinished: () => void;
}

export class CloudBuildStandIn extends GrpcStandIn<CloudBuildMethod> {
  readonly notificationFaults = new NotificationFaults();
  /** Notifications delivered to the sink, in delivery order. */
  readonly notifications: DeliveredNotification[] = [];
  /** Notifications the sink refused (e.g. the topic does not exist). */
  readonly notificationFailures: NotificationFailure[] = [];

  private readonly protos = loadCloudBuildProtos();
  private readonly builds = new Map<string, BuildRecord>();
  private readonly initialDurations: BuildDurations;
  private durations: BuildDurations;
  private forcedStatuses: {status: ForceableBuildStatus; detail?: string}[] =
    [];
  private listingDelayMs = 0;
  private sink: BuildNotificationSink;
  private delivery: Promise<void> = Promise.resolve();
  /** Bumped by reset(), so notifications queued before a reset are dropped. */
  private generation = 0;

  private constructor(private readonly options: CloudBuildStandInOptions) {
    super('the Cloud Build stand-in', options.faultSeed);
    this.sink = options.notificationSink;
    this.initialDurations = {
      ...DEFAULT_BUILD_DURATIONS,
      ...options.buildDurations,
    };
    this.durations = {...this.initialDurations};
  }

  /** Starts serving on 127.0.0.1. */
  static async start(
    options: CloudBuildStandInOptions,
  ): Promise<CloudBuildStandIn> {
    const standIn = new CloudBuildStandIn(options);
    await standIn.serve(standIn.protos, SERVICE, options.port);
    return standIn;
  }

  /** Stops serving, abandons running builds, and waits for queued notifications. */
  async stop(): Promise<void> {
    this.abandonBuilds();
    await super.stop();
    await this.delivery;
    const {engine, registryHost, stepEnvironment} = this.options;
    if (engine && registryHost) {
      await removeEngineImages(engine, registryHost, {
        ...process.env,
        ...stepEnvironment,
      });
    }
  }

  /** Clears builds, operations, faults, forced statuses, durations, call counts and notification logs. */
  reset(): void {
    this.abandonBuilds();
    this.generation += 1;
    this.operations.clear();
    this.faults.reset();
    this.notificationFaults.reset();
    this.calls.clear();
    this.forcedStatuses = [];
    this.durations = {...this.initialDurations};
    this.listingDelayMs = 0;
    this.notifications.length = 0;
    this.notificationFailures.length = 0;
  }

  // --- control --------------------------------------------------------------------------------

  /** The next build (one per call, in order) ends with `status` instead of its normal outcome. */
  forceNextTerminalStatus(status: ForceableBuildStatus, detail?: string): this {
    if (!FORCEABLE_BUILD_STATUSES.includes(status)) {
      throw new Error(
        `forceNextTerminalStatus: ${status} is not one of ${FORCEABLE_BUILD_STATUSES.join(', ')}`,
      );
    }
    this.forcedStatuses.push({status, detail});
    return this;
  }

  /** Changes how long builds created from now on stay QUEUED and WORKING. */
  setBuildDurations(durations: Partial<BuildDurations>): this {
    this.durations = {...this.durations, ...durations};
    return this;
  }

  /**
   * A build shows in ListBuilds only `millis` after it was created, as an index that lags
   * behind (GetBuild finds it at once). 0, the default, lists it at once.
   */
  setListingDelay(millis: number): this {
    if (!(millis >= 0))
      throw new Error(`setListingDelay: millis must be >= 0, got ${millis}`);
    this.listingDelayMs = millis;
    return this;
  }

  /** Sends notifications somewhere else from now on (e.g. a test's own topic). */
  setNotificationSink(sink: BuildNotificationSink): this {
    this.sink = sink;
    return this;
  }

  /**
   * Sends a notification that no build here produced (a forgery, a stale or garbled copy:
   * what anyone who may publish to the topic can send) through the same sink, after those
   * already queued. Kept out of `notifications`, which are the builds' own.
   */
  publishNotification(
    attributes: BuildNotificationAttributes,
    data: JsonValue,
  ): Promise<void> {
    const sink = this.sink;
    const published = this.delivery.then(() =>
      sink.publish(attributes, Buffer.from(JSON.stringify(data))),
    );
    // A refused publish is the caller's to see; the builds' own notifications go on.
    this.delivery = published.catch(() => undefined);
    return published;
  }

  /** Resolves once notifications queued so far were delivered (or failed). */
  settled(): Promise<void> {
    return this.delivery;
  }

  /** Resolves when the build reached a terminal status and its notifications were sent. */
  async whenFinished(buildId: string): Promise<BuildStatus> {
    const record = this.record(buildId);
    await record.finished;
    await this.delivery;
    return record.status;
  }

  /** The current status of a build, without a recorded call. */
  buildStatus(buildId: string): BuildStatus {
    return this.record(buildId).status;
  }

  /** A build as Cloud Build's JSON (what its notifications carry), without a recorded call. */
  buildJson(buildId: string): JsonValue {
    return this.buildToJson(this.toWire(this.record(buildId)));
  }

  /** A real build's log lines (the last few thousand), as its steps printed them. */
  buildLog(buildId: string): readonly string[] {
    return this.record(buildId).log;
  }

  /** Whether builds run on a Docker engine (else they are simulated). */
  get runsRealBuilds(): boolean {
    return this.options.engine !== undefined;
  }

  /** Ids of every build, oldest first. */
  buildIds(): string[] {
    return [...this.builds.keys()];
  }

  // --- gRPC handlers --------------------------------------------------------------------------

  protected serviceImplementation() {
    const call = (
      method: CloudBuildMethod,
      handler: (request: ProtoObject) => object,
    ) => unary(this, method, handler);
    return {
      CreateBuild: call('CreateBuild', request => this.createBuild(request)),
      GetBuild: call('GetBuild', request =>
        this.toWire(this.findRequested(request)),
      ),
      ListBuilds: call('ListBuilds', request => {
        const {projectId, location} = this.scope(request);
        const accepts = parseBuildFilter(stringField(request, 'filter'));
        const listedBefore = Date.now() - this.listingDelayMs;
        const builds = [...this.builds.values()]
          .filter(
            b =>
              b.projectId === projectId &&
              (location === undefined || b.location === location) &&
              b.createTime.getTime() <= listedBefore,
          )
          .filter(b =>
            accepts({
              id: b.id,
              status: b.status,
              tags: b.tags,
              images: b.images,
            }),
          )
          .reverse();
        const page = paginate(
          builds,
          pageRequest(request),
          `builds:${projectId}`,
        );
        return {
          builds: page.items.map(b => this.toWire(b)),
          nextPageToken: page.nextPageToken,
        };
      }),
      CancelBuild: call('CancelBuild', request => {
        const record = this.findRequested(request);
        if (isTerminalBuildStatus(record.status)) {
          throw failedPrecondition(
            `build ${record.id} is not running: its status is ${record.status}`,
          );
        }
        if (record.abort && record.status === 'WORKING') {
          record.abort.abort('CANCELLED');
        } else {
          this.finish(record, 'CANCELLED', {
            statusDetail: 'Build was cancelled.',
          });
        }
        return this.toWire(record);
      }),
    };
  }

  private createBuild(request: ProtoObject): WireOperation {
    const {projectId, location} = this.scope(request);
    const build = messageField(request, 'build');
    if (!build) throw invalidArgument('build is required');
    validateBuild(build);
    const id = randomUUID();
    const substitutions = substitutionScope(build, {
      PROJECT_ID: projectId,
      BUILD_ID: id,
      LOCATION: location ?? 'global',
    });
    validateSubstitutions(build, substitutions);
    let markFinished = () => {};
    const finished = new Promise<void>(resolve => (markFinished = resolve));
    const passthrough = {...build};
    for (const field of OUTPUT_ONLY_FIELDS) delete passthrough[field];
    const record: BuildRecord = {
      id,
      projectId,
      location: location ?? 'global',
      status: 'QUEUED',
      request: passthrough,
      images: stringListField(build, 'images'),
      tags: stringListField(build, 'tags'),
      createTime: new Date(),
      timing: {},
      steps: [],
      log: [],
      workingMs: this.durations.workingMs,
      forced: this.forcedStatuses.shift(),
      operationName: operationName(projectId, location, id),
      timers: [],
      held: [],
      finished,
      markFinished,
    };
    this.builds.set(id, record);
    this.changed(record);
    const {queuedMs, workingMs} = this.durations;
    if (record.forced?.status === 'EXPIRED') {
      // An expired build never started: its queue TTL ran out.
      this.schedule(record, queuedMs, () =>
        this.finish(record, 'EXPIRED', {
          statusDetail:
            record.forced?.detail ??
            'Build expired: its queue TTL elapsed before it started.',
        }),
      );
    } else {
      this.schedule(record, queuedMs, () => {
        record.status = 'WORKING';
        record.startTime = new Date();
        this.changed(record);
        if (this.options.engine && !record.forced) {
          this.runReal(record, substitutions, this.options.engine).catch(
            error => {
              // A fault of the stand-in itself: the build ends instead of hanging.
              if (isTerminalBuildStatus(record.status)) return;
              this.finish(record, 'INTERNAL_ERROR', {
                statusDetail: `the local Cloud Build failed: ${(error as Error).message}`,
              });
            },
          );
        } else {
          this.schedule(record, workingMs, () => {
            this.complete(record).catch(error => {
              if (this.builds.get(record.id) !== record) return;
              this.finish(record, 'INTERNAL_ERROR', {
                statusDetail: `the Cloud Build stand-in failed: ${String(error)}`,
              });
            });
          });
        }
      });
    }
    return this.operations.get(record.operationName);
  }

  /** Runs the build's steps on the engine, within its `timeout`, and finishes it with the outcome. */
  private async runReal(
    record: BuildRecord,
    substitutions: SubstitutionScope,
    engine: DockerEngine,
  ): Promise<void> {
    const abort = new AbortController();
    record.abort = abort;
    this.schedule(record, timeoutMillis(record.request), () =>
      abort.abort('TIMEOUT'),
    );
    let outcome: RunOutcome;
    try {
      outcome = await runBuild({
        buildId: record.id,
        request: record.request,
        substitutions,
        engine,
        fetchSource: this.options.fetchSource,
        stepEnvironment: this.options.stepEnvironment,
        signal: abort.signal,
        onStepChange: steps => (record.steps = steps.map(step => ({...step}))),
        log: line => {
          record.log.push(line);
          if (record.log.length > KEPT_LOG_LINES) record.log.shift();
        },
      });
    } catch (error) {
      outcome = {
        status: 'FAILURE',
        statusDetail: `the local Cloud Build could not run the build: ${(error as Error).message}`,
        failureInfo: {
          type: 'USER_BUILD_STEP',
          detail: `the local Cloud Build could not run the build: ${(error as Error).message}`,
        },
      };
    }
    if (isTerminalBuildStatus(record.status)) return; // abandoned by reset() or stop()
    const now = new Date();
    record.timing.BUILD = {startTime: record.startTime ?? now, endTime: now};
    if (outcome.status !== 'SUCCESS') {
      this.finish(record, outcome.status, {
        statusDetail: outcome.statusDetail,
        failureInfo: 'failureInfo' in outcome ? outcome.failureInfo : undefined,
      });
      return;
    }
    const [first, last] = [outcome.images[0], outcome.images.at(-1)];
    if (first && last) {
      record.timing.PUSH = {startTime: first.startTime, endTime: last.endTime};
    }
    record.results = {
      images: outcome.images.map(image => ({
        name: image.name,
        digest: image.digest,
        pushTiming: {
          startTime: toWireTimestamp(image.startTime),
          endTime: toWireTimestamp(image.endTime),
        },
      })),
      buildStepOutputs: outcome.stepOutputs,
    };
    this.finish(record, 'SUCCESS', {});
  }

  /** The end of WORKING: the forced status if any, else push the images. */
  private async complete(record: BuildRecord): Promise<void> {
    const now = new Date();
    const started = record.startTime ?? now;
    record.timing.BUILD = {startTime: started, endTime: now};
    const forced = record.forced;
    if (forced) {
      const defaults: Record<ForceableBuildStatus, string> = {
        FAILURE: 'Build failed; check build logs for details',
        INTERNAL_ERROR: 'Internal error encountered.',
        TIMEOUT: 'Build timed out.',
        CANCELLED: 'Build was cancelled.',
        EXPIRED: 'Build expired: its queue TTL elapsed before it started.',
      };
      const statusDetail = forced.detail ?? defaults[forced.status];
      this.finish(record, forced.status, {
        statusDetail,
        failureInfo:
          forced.status === 'FAILURE'
            ? {
                type: 'USER_BUILD_STEP',
                detail: `Build step failure: ${statusDetail}`,
              }
            : undefined,
      });
      return;
    }
    const outcome = await pushBuildImages(
      this.options.artifactStore,
      record.id,
      record.images,
      this.options.registryHost,
    );
    const pushed = new Date();
    // Cancelled, or abandoned by reset() or stop(), while it pushed.
    if (this.builds.get(record.id) !== record || record.status !== 'WORKING')
      return;
    if (!outcome.ok) {
      this.finish(record, 'FAILURE', {
        statusDetail: outcome.detail,
        failureInfo: {type: 'PUSH_FAILED', detail: outcome.detail},
      });
      return;
    }
    if (outcome.images.length > 0)
      record.timing.PUSH = {startTime: now, endTime: pushed};
    record.results = {
      images: outcome.images.map(image => ({
        ...image,
        pushTiming: {
          startTime: toWireTimestamp(now),
          endTime: toWireTimestamp(pushed),
        },
      })),
    };
    this.finish(record, 'SUCCESS', {});
  }

  private finish(
    record: BuildRecord,
    status: BuildStatus,
    details: {
      statusDetail?: string;
      failureInfo?: {type: string; detail: string};
    },
  ): void {
    for (const timer of record.timers) clearTimeout(timer);
    record.timers = [];
    record.status = status;
    record.finishTime = new Date();
    record.statusDetail = details.statusDetail;
    record.failureInfo = details.failureInfo;
    this.changed(record);
    record.markFinished();
  }

  /** Records a status change: updates the operation and publishes the notification. */
  private changed(record: BuildRecord): void {
    const wire = this.toWire(record);
    const operation: WireOperation = {
      name: record.operationName,
      metadata: this.protos.pack(BUILD_METADATA_TYPE, {build: wire}),
      done: isTerminalBuildStatus(record.status),
    };
    if (record.status === 'SUCCESS') {
      operation.response = this.protos.pack(BUILD_TYPE, wire);
    } else if (isTerminalBuildStatus(record.status)) {
      operation.error = {
        code: operationErrorCode(record.status),
        message: record.statusDetail ?? `Build ${record.status}`,
        details: [],
      };
    }
    this.operations.put(operation);
    this.notify(record, {
      attributes: {buildId: record.id, status: record.status},
      build: this.buildToJson(wire),
    });
  }

  private notify(record: BuildRecord, notification: PendingNotification): void {
    if (this.notificationFaults.isHeld(notification.attributes.status)) {
      record.held.push(notification);
      return;
    }
    this.enqueue(notification);
    if (isTerminalBuildStatus(notification.attributes.status)) {
      for (const held of record.held.splice(0)) this.enqueue(held);
    }
  }

  private enqueue(notification: PendingNotification): void {
    const generation = this.generation;
    const copies = this.notificationFaults.deliveries(
      notification.attributes.status,
    );
    for (let copy = 0; copy < copies; copy++) {
      this.delivery = this.delivery.then(async () => {
        if (generation !== this.generation) return;
        const data = Buffer.from(JSON.stringify(notification.build));
        try {
          await this.sink.publish(notification.attributes, data);
          this.notifications.push(notification);
        } catch (error) {
          this.notificationFailures.push({
            attributes: notification.attributes,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      });
    }
  }

  private schedule(
    record: BuildRecord,
    delayMs: number,
    action: () => void,
  ): void {
    record.timers.push(setTimeout(action, delayMs));
  }

  private abandonBuilds(): void {
    for (const record of this.builds.values()) {
      for (const timer of record.timers) clearTimeout(timer);
      record.timers = [];
      if (!isTerminalBuildStatus(record.status)) {
        record.status = 'CANCELLED';
        record.abort?.abort('CANCELLED');
      }
      record.markFinished();
    }
    this.builds.clear();
  }

  /**
   * The Build as Cloud Build's JSON. gax's serializer cannot write a repeated bytes field, so
   * `results.buildStepOutputs` is written here, base64 as proto3 JSON writes bytes.
   */
  private buildToJson(wire: ProtoObject): JsonValue {
    const results = wire.results as {buildStepOutputs?: Buffer[]} | undefined;
    const outputs = results?.buildStepOutputs;
    if (!outputs) return this.protos.toProto3Json(BUILD_TYPE, wire);
    const json = this.protos.toProto3Json(BUILD_TYPE, {
      ...wire,
      results: {...results, buildStepOutputs: []},
    }) as {results?: Record<string, JsonValue>};
    json.results = {
      ...json.results,
      buildStepOutputs: outputs.map(output => output.toString('base64')),
    };
    return json as JsonValue;
  }

  private toWire(record: BuildRecord): ProtoObject {
    const timing: Record<string, object> = {};
    for (const [key, span] of Object.entries(record.timing)) {
      timing[key] = {
        startTime: toWireTimestamp(span.startTime),
        endTime: toWireTimestamp(span.endTime),
      };
    }
    const regional = record.location !== 'global';
    return {
      ...record.request,
      steps:
        record.steps.length > 0
          ? stepsToWire(record.request, record.steps)
          : this.stepsToWire(record),
      name: `projects/${record.projectId}/locations/${record.location}/builds/${record.id}`,
      id: record.id,
      projectId: record.projectId,
      status: record.status,
      ...(record.statusDetail ? {statusDetail: record.statusDetail} : {}),
      createTime: toWireTimestamp(record.createTime),
      ...(record.startTime
        ? {startTime: toWireTimestamp(record.startTime)}
        : {}),
      ...(record.finishTime
        ? {finishTime: toWireTimestamp(record.finishTime)}
        : {}),
      timeout: record.request.timeout ?? toWireDuration(DEFAULT_TIMEOUT_MS),
      queueTtl: record.request.queueTtl ?? toWireDuration(DEFAULT_QUEUE_TTL_MS),
      logsBucket:
        record.request.logsBucket ?? `gs://${record.projectId}_cloudbuild/logs`,
      logUrl:
        'https://console.cloud.google.com/cloud-build/builds' +
        `${regional ? `;region=${record.location}` : ''}/${record.id}?project=${record.projectId}`,
      ...(record.results ? {results: record.results} : {}),
      timing,
      ...(record.failureInfo ? {failureInfo: record.failureInfo} : {}),
    };
  }

  /** The build's steps as sent, each with the status and timing it has now. */
  private stepsToWire(record: BuildRecord): ProtoObject[] {
    const sent = (record.request.steps ?? []) as ProtoObject[];
    const progress = simulatedSteps(
      {
        stepCount: sent.length,
        startTime: record.startTime,
        workingMs: record.workingMs,
        status: record.status,
        finishTime: record.finishTime,
      },
      new Date(),
    );
    return sent.map((step, i) => {
      const {status, startTime, endTime} = progress[i];
      // Output-only, like the Build's own: a client's values are not kept.
      const own = {...step};
      delete own.timing;
      delete own.pullTiming;
      return {
        ...own,
        status,
        ...(startTime
          ? {
              timing: {
                startTime: toWireTimestamp(startTime),
                ...(endTime ? {endTime: toWireTimestamp(endTime)} : {}),
              },
            }
          : {}),
      };
    });
  }

  /** Project (and location, for `parent`/`name` forms) a request is scoped to. */
  private scope(request: ProtoObject): {projectId: string; location?: string} {
    const resource =
      stringField(request, 'parent') || stringField(request, 'name');
    const projectId = stringField(request, 'projectId');
    if (resource) {
      const match =
        /^projects\/([^/]+)\/locations\/([^/]+)(?:\/builds\/[^/]+)?$/.exec(
          resource,
        );
      if (!match) throw invalidArgument(`invalid resource name "${resource}"`);
      if (projectId && projectId !== match[1]) {
        throw invalidArgument(
          `project_id "${projectId}" does not match "${resource}"`,
        );
      }
      return {projectId: match[1], location: match[2]};
    }
    if (!projectId) throw invalidArgument('project_id is required');
    return {projectId};
  }

  private findRequested(request: ProtoObject): BuildRecord {
    const {projectId} = this.scope(request);
    const name = stringField(request, 'name');
    const id = name
      ? name.slice(name.lastIndexOf('/') + 1)
      : stringField(request, 'id');
    if (!id) throw invalidArgument('id is required');
    const record = this.builds.get(id);
    if (!record || record.projectId !== projectId) {
      throw notFound(
        `Requested entity was not found: build ${id} in project ${projectId}`,
      );
    }
    return record;
  }

  private record(buildId: string): BuildRecord {
    const record = this.builds.get(buildId);
    if (!record)
      throw new Error(`the Cloud Build stand-in has no build ${buildId}`);
    return record;
  }
}

function validateBuild(build: ProtoObject): void {
  const steps = build.steps;
  if (!Array.isArray(steps) || steps.length === 0) {
    throw invalidArgument('invalid build: a build must have at least one step');
  }
  steps.forEach((step, index) => {
    const name =
      typeof step === 'object' && step !== null && 'name' in step
        ? step.name
        : undefined;
    if (typeof name !== 'string' || name === '') {
      throw invalidArgument(
        `invalid build: step ${index} must have a name (the builder image)`,
      );
    }
  });
  for (const image of stringListField(build, 'images')) {
    if (image.trim() === '' || /\s/.test(image)) {
      throw invalidArgument(`invalid build: invalid image name "${image}"`);
    }
  }
  for (const tag of stringListField(build, 'tags')) {
    if (!BUILD_TAG.test(tag)) {
      throw invalidArgument(
        `invalid build: invalid build tag "${tag}": must match ${BUILD_TAG.source}`,
      );
    }
  }
  for (const key of Object.keys(stringMapField(build, 'substitutions'))) {
    if (!SUBSTITUTION_KEY.test(key)) {
      throw invalidArgument(
        `invalid build: substitution key "${key}" does not respect format "${SUBSTITUTION_KEY.source}"`,
      );
    }
  }
}

function operationName(
  projectId: string,
  location: string | undefined,
  id: string,
): string {
  const encoded = Buffer.from(id).toString('base64url');
  return location
    ? `projects/${projectId}/locations/${location}/operations/${encoded}`
    : `operations/build/${projectId}/${encoded}`;
}

/** The status a finished, unsuccessful build's operation carries. */
function operationErrorCode(status: BuildStatus): grpc.status {
  switch (status) {
    case 'CANCELLED':
      return grpc.status.CANCELLED;
    case 'TIMEOUT':
    case 'EXPIRED':
      return grpc.status.DEADLINE_EXCEEDED;
    case 'INTERNAL_ERROR':
      return grpc.status.INTERNAL;
    default:
      return grpc.status.UNKNOWN;
  }
}

/** The build's steps with the status and timing each has reached. */
function stepsToWire(
  request: ProtoObject,
  states: readonly StepState[],
): ProtoObject[] {
  const steps = Array.isArray(request.steps) ? request.steps : [];
  return steps.map((step, index) => {
    const state = states[index];
    if (!state) return step as ProtoObject;
    return {
      ...(step as ProtoObject),
      status: state.status,
      ...(state.startTime
        ? {
            timing: {
              startTime: toWireTimestamp(state.startTime),
              ...(state.endTime
                ? {endTime: toWireTimestamp(state.endTime)}
                : {}),
            },
          }
        : {}),
    };
  });
}

function substitutionScope(
  build: ProtoObject,
  builtIn: Record<string, string>,
): SubstitutionScope {
  const options = messageField(build, 'options');
  return {
    user: stringMapField(build, 'substitutions'),
    builtIn,
    allowLoose:
      options !== undefined &&
      stringField(options, 'substitutionOption') === 'ALLOW_LOOSE',
  };
}

/** Refuses at CreateBuild what Cloud Build refuses: a reference its substitutions cannot resolve. */
function validateSubstitutions(
  build: ProtoObject,
  scope: SubstitutionScope,
): void {
  const steps = Array.isArray(build.steps) ? build.steps : [];
  const texts = [
    ...stringListField(build, 'images'),
    ...steps.flatMap(step =>
      typeof step === 'object' && step !== null
        ? [
            ...stringListField(step as ProtoObject, 'args'),
            ...stringListField(step as ProtoObject, 'env'),
            stringField(step as ProtoObject, 'dir'),
          ]
        : [],
    ),
  ];
  for (const text of texts) applySubstitutions(text, scope);
}

/** `Build.timeout` in milliseconds (Cloud Build's default: 10 minutes). */
function timeoutMillis(request: ProtoObject): number {
  const timeout = messageField(request, 'timeout');
  if (!timeout) return DEFAULT_TIMEOUT_MS;
  const seconds = Number(timeout.seconds ?? 0);
  const nanos = Number(timeout.nanos ?? 0);
  const millis = seconds * 1000 + Math.floor(nanos / 1e6);
  return millis > 0 ? millis : DEFAULT_TIMEOUT_MS;
}
