/**
 * Convergence under faults: the checklist cycle over the local stack while the
 * stand-ins fail a share of calls with a transient status, calls that change something
 * lose their answer after acting, Cloud Build notifications are duplicated and
 * delivered out of order, one build fails, and malformed messages of every kind are
 * mixed in. Then the invariants that must hold once it is at rest.
 *
 * Used by test/e2e/convergence.test.ts (one cycle) and `npm run bench -- --long`.
 */
import {grpc} from 'google-gax';
import {ArtifactRegistryMethod, CloudBuildMethod} from '../local/standins';
import {imageCatalog} from '../shared/catalog';
import {FINISHED_RUN_STATUSES, type RunRecord} from '../shared/runs';
import {
  BASE_IMAGE,
  CHECKLIST_IMAGES,
  EPHEMERAL_REPOSITORY,
  PERSISTENT_REPOSITORY,
  isCacheHit,
  runChecklistCycle,
} from './checklist';
import {functionProcess} from './processes';
import {isTerminalBuildStatus} from '../shared/messages';
import {type StackDriver, TOPICS, type TopicName} from './stack-driver';

export interface FaultOptions {
  /** Share of every stand-in call answered UNAVAILABLE before it acts; default 0.2. */
  failureRate?: number;
  /**
   * Share of the calls that change something (LOST_ANSWER_METHODS) that act, then
   * answer DEADLINE_EXCEEDED: the answer lost; default 0.1. Besides, the first call of
   * each of them always loses its answer.
   */
  lostAnswerRate?: number;
  seed?: number;
}

/**
 * The calls that change something. Where an answer is lost, a repeat must not act twice:
 * the Artifact Registry ones answer ALREADY_EXISTS / NOT_FOUND when repeated; CreateBuild
 * is never repeated, its build looked up by its tags instead.
 */
export const LOST_ANSWER_METHODS: {
  artifactRegistry: readonly ArtifactRegistryMethod[];
  cloudBuild: readonly CloudBuildMethod[];
} = {
  artifactRegistry: [
    'CreateRepository',
    'DeleteRepository',
    'UpdateRepository',
    'DeleteVersion',
    'DeleteTag',
  ],
  cloudBuild: ['CreateBuild'],
};

/**
 * Every method of both stand-ins fails before acting with `failureRate`; the methods
 * that change something lose their first answer and then a share `lostAnswerRate`;
 * notifications duplicated and reordered.
 */
export function injectFaults(
  driver: StackDriver,
  options: FaultOptions = {},
): void {
  const rate = options.failureRate ?? 0.2;
  const lostRate = options.lostAnswerRate ?? 0.1;
  const error = {code: grpc.status.UNAVAILABLE};
  const lost = {code: grpc.status.DEADLINE_EXCEEDED, answerLost: true};
  const {artifactRegistry, cloudBuild} = driver.stack.standIns;
  artifactRegistry.faults.seed(options.seed ?? 1);
  cloudBuild.faults.seed((options.seed ?? 1) + 1);
  for (const method of LOST_ANSWER_METHODS.artifactRegistry) {
    artifactRegistry.faults.failOnce(method, lost);
  }
  for (const method of LOST_ANSWER_METHODS.cloudBuild) {
    cloudBuild.faults.failOnce(method, lost);
  }
  for (const method of ArtifactRegistryMethod) {
    artifactRegistry.faults.failWithProbability(method, rate, error);
  }
  for (const method of CloudBuildMethod) {
    cloudBuild.faults.failWithProbability(method, rate, error);
  }
  for (const method of LOST_ANSWER_METHODS.artifactRegistry) {
    artifactRegistry.faults.failWithProbability(method, lostRate, lost);
  }
  for (const method of LOST_ANSWER_METHODS.cloudBuild) {
    cloudBuild.faults.failWithProbability(method, lostRate, lost);
  }
  cloudBuild.notificationFaults
    .duplicate('ALL', 1)
    .deliverAfterTerminal('WORKING')
    .deliverAfterTerminal('QUEUED');
}

/** What the injected faults did: calls failed before acting, and lost answers per method. */
export interface InjectedFaults {
  failedBeforeActing: number;
  answersLost: Record<string, number>;
}

/** Stops injecting faults into both stand-ins, and says what they did. */
export function stopFaults(driver: StackDriver): InjectedFaults {
  const {artifactRegistry, cloudBuild} = driver.stack.standIns;
  const injected: InjectedFaults = {failedBeforeActing: 0, answersLost: {}};
  const tally = (
    method: string,
    fired: {beforeActing: number; answerLost: number},
  ) => {
    injected.failedBeforeActing += fired.beforeActing;
    if (fired.answerLost > 0) injected.answersLost[method] = fired.answerLost;
  };
  for (const method of ArtifactRegistryMethod) {
    tally(method, artifactRegistry.faults.fired(method));
  }
  for (const method of CloudBuildMethod) {
    tally(method, cloudBuild.faults.fired(method));
  }
  artifactRegistry.faults.reset();
  cloudBuild.faults.reset();
  return injected;
}

/** A malformed message: what it is, where it goes, and its bytes. */
export interface MalformedMessage {
  topic: TopicName;
  what: string;
  data: Buffer;
  attributes?: Record<string, string>;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const base = CHECKLIST_IMAGES[0];

/**
 * Every way a message can be wrong, on every topic.
 *
 * `noData` adds a message with attributes and no data (valid in Pub/Sub). Left out by
 * default: functions-framework's push middleware only turns a push body with a non-empty
 * `message.data` into a Pub/Sub CloudEvent, so the handler gets an event without an id,
 * `runDocumentId(undefined)` throws a TypeError, the function answers 500 and Pub/Sub
 * redelivers it forever, with no run recorded (see the convergence test).
 */
export function malformedMessages(
  options: {noData?: boolean} = {},
): MalformedMessage[] {
  const perTopic: Array<[TopicName, Array<[string, Buffer]>]> = [
    [
      TOPICS.setup,
      [
        ['wrong type: dryRun "yes"', json({dryRun: 'yes'})],
        ['unknown key: repository', json({repository: PERSISTENT_REPOSITORY})],
      ],
    ],
    [
      TOPICS.dockerfileChanged,
      [
        [
          'wrong types',
          json({image: 42, dockerfileHash: 'XYZ', source: 'http://x'}),
        ],
        ['unknown key: tier', json({...base, tier: 'ephemeral'})],
        ['unknown image', json({...base, image: 'arr-nope'})],
        ['missing fields', json({image: BASE_IMAGE})],
      ],
    ],
    [
      TOPICS.teardown,
      [
        ['wrong type: confirm 123', json({confirm: 123})],
        [
          'unknown key: target',
          json({confirm: EPHEMERAL_REPOSITORY, target: PERSISTENT_REPOSITORY}),
        ],
        [
          'confirm names the persistent repository',
          json({confirm: PERSISTENT_REPOSITORY}),
        ],
      ],
    ],
    [
      TOPICS.cloudBuilds,
      [['wrong types: id 7, status DONE', json({id: 7, status: 'DONE'})]],
    ],
  ];
  const everywhere: Array<[string, Buffer]> = [
    ['raw bytes, not UTF-8', Buffer.from([0xff, 0xfe, 0x00, 0x81])],
    ['UTF-8, not JSON', Buffer.from('setup please {')],
    ['JSON, not an object: array', json([1, 2, 3])],
    ['JSON, not an object: null', Buffer.from('null')],
    ['JSON, not an object: string', json('arr-coc-registry')],
  ];
  const messages: MalformedMessage[] = [];
  for (const [topic, specific] of perTopic) {
    for (const [what, data] of [...everywhere, ...specific]) {
      messages.push({topic, what, data});
    }
    if (options.noData) {
      messages.push({
        topic,
        what: 'attributes, no data',
        data: Buffer.alloc(0),
        attributes: {why: 'empty'},
      });
    }
  }
  return messages;
}

export interface PublishedMalformed extends MalformedMessage {
  id: string;
}

export async function publishMalformed(
  driver: StackDriver,
  messages: readonly MalformedMessage[] = malformedMessages(),
): Promise<PublishedMalformed[]> {
  return Promise.all(
    messages.map(async m => ({
      ...m,
      id: await driver.publish(m.topic, m.data, m.attributes),
    })),
  );
}

export interface ConvergenceRecord {
  /** Times (ms since epoch) at which a teardown had finished: they split the builds into epochs. */
  teardowns: number[];
  malformed: PublishedMalformed[];
  cachedBaseRuns: RunRecord[];
  /** pid of each function process at the start. */
  pids: Record<string, number>;
}

/** pid of each function process; -1 for one that no longer serves. */
export function functionPids(driver: StackDriver): Record<string, number> {
  return Object.fromEntries(
    driver.stack.functions.map(f => {
      try {
        return [f.target, functionProcess(f.target, f.url)];
      } catch {
        return [f.target, -1];
      }
    }),
  );
}

/** The checklist cycle `cycles` times under faults, malformed messages in every step. */
export async function runUnderFaults(
  driver: StackDriver,
  options: FaultOptions & {
    cycles?: number;
    failOneBuild?: boolean;
    stepTimeoutMs?: number;
  } = {},
): Promise<ConvergenceRecord> {
  const record: ConvergenceRecord = {
    teardowns: [],
    malformed: [],
    cachedBaseRuns: [],
    pids: functionPids(driver),
  };
  injectFaults(driver, options);
  if (options.failOneBuild ?? true) {
    driver.stack.standIns.cloudBuild.forceNextTerminalStatus(
      'FAILURE',
      'injected: the build step failed',
    );
  }
  for (let cycle = 0; cycle < (options.cycles ?? 1); cycle++) {
    const result = await runChecklistCycle(driver, {
      stepTimeoutMs: options.stepTimeoutMs ?? 60_000,
      between: async step => {
        if (step === 'teardown') record.teardowns.push(Date.now());
        record.malformed.push(...(await publishMalformed(driver)));
      },
    });
    record.cachedBaseRuns.push(result.cachedBase);
  }
  return record;
}

/** What must hold at rest; each violation as one readable line (none: converged). */
export async function convergenceViolations(
  driver: StackDriver,
  record: ConvergenceRecord,
): Promise<string[]> {
  const violations: string[] = [];
  const fail = (line: string) => violations.push(line);
  const {projectId, region} = driver.stack;
  const store = driver.stack.standIns.artifactRegistry.store;
  const catalog = imageCatalog();
  const repositoryOf = (image: string) =>
    catalog.get(image)?.tier === 'persistent'
      ? PERSISTENT_REPOSITORY
      : EPHEMERAL_REPOSITORY;
  const pkg = (image: string) => ({
    projectId,
    location: region,
    repositoryId: repositoryOf(image),
    image,
  });
  const [manifest, runs, buildRecords] = await Promise.all([
    driver.manifest(),
    driver.runs(),
    driver.buildRecords(),
  ]);

  // The persistent repository and its base image are intact.
  const persistent = store.findRepository({
    projectId,
    location: region,
    repositoryId: PERSISTENT_REPOSITORY,
  });
  if (!persistent)
    fail(`the persistent repository ${PERSISTENT_REPOSITORY} is gone`);
  else if (persistent.labels['arr-lifecycle'] !== 'persistent')
    fail(
      `${PERSISTENT_REPOSITORY} lost its label: ${JSON.stringify(persistent.labels)}`,
    );
  const baseEntry = manifest.get(BASE_IMAGE);
  if (!baseEntry?.present || !baseEntry.key)
    fail(`${BASE_IMAGE} is not present in the manifest`);
  else if (persistent && !(await store.findTag(pkg(BASE_IMAGE), baseEntry.key)))
    fail(`${BASE_IMAGE}:${baseEntry.key} is not in ${PERSISTENT_REPOSITORY}`);
  for (const run of record.cachedBaseRuns) {
    if (!isCacheHit(run))
      fail(
        `the same base hash again was not a cache hit (run ${run.id}: ${run.steps.map(s => s.text).join(' | ')})`,
      );
  }

  // The manifest matches the registry exactly, both ways.
  for (const [image, entry] of manifest) {
    if (!entry.present) continue;
    const tag = entry.key
      ? await store.findTag(pkg(image), entry.key)
      : undefined;
    if (!tag)
      fail(
        `manifest says ${image}:${entry.key} is present; ${repositoryOf(image)} has no such tag`,
      );
    else if (tag.digest !== entry.digest)
      fail(
        `manifest has ${image}:${entry.key} at ${entry.digest}; the registry tag points at ${tag.digest}`,
      );
  }
  for (const repositoryId of [PERSISTENT_REPOSITORY, EPHEMERAL_REPOSITORY]) {
    const key = {projectId, location: region, repositoryId};
    if (!store.findRepository(key)) {
      fail(`${repositoryId} does not exist at the end (setup ran last)`);
      continue;
    }
    for (const image of await store.listImages(key)) {
      if (!catalog.has(image.image) || image.tags.length === 0) continue;
      const entry = manifest.get(image.image);
      if (!entry?.present)
        fail(
          `${repositoryId} holds ${image.image} (tags ${image.tags.join(', ')}); the manifest does not say present`,
        );
      else if (repositoryOf(image.image) !== repositoryId)
        fail(`${image.image} is in ${repositoryId}, not its tier's repository`);
    }
  }
  // Every catalog image the cycle asked for is back.
  for (const {image} of CHECKLIST_IMAGES) {
    if (!manifest.get(image)?.present)
      fail(`${image} is not present at the end`);
  }

  // Exactly one successful build per (image, key) in each epoch between teardowns; the
  // persistent base, which survives teardowns, exactly once overall.
  const builds = driver.builds();
  const cloudBuild = driver.stack.standIns.cloudBuild;
  const epochOf = (buildId: string) => {
    const created = Date.parse(
      String(
        (cloudBuild.buildJson(buildId) as {createTime?: string}).createTime,
      ),
    );
    return record.teardowns.filter(t => t <= created).length;
  };
  const successes = new Map<string, number>();
  for (const b of builds) {
    if (b.status !== 'SUCCESS') continue;
    const epoch =
      repositoryOf(b.image ?? '') === PERSISTENT_REPOSITORY ? 0 : epochOf(b.id);
    const group = `${b.image}:${b.key} (epoch ${epoch})`;
    successes.set(group, (successes.get(group) ?? 0) + 1);
  }
  for (const [group, count] of successes) {
    if (count !== 1)
      fail(`${count} successful builds of ${group}; exactly one expected`);
  }
  for (const [image, entry] of manifest) {
    if (
      entry.present &&
      entry.origin === 'built' &&
      !builds.some(
        b => b.image === image && b.key === entry.key && b.status === 'SUCCESS',
      )
    )
      fail(
        `${image}:${entry.key} is recorded as built, but no build of it succeeded`,
      );
  }

  // Every failed build attempt is in its record's history.
  for (const b of builds) {
    if (!isTerminalBuildStatus(b.status) || b.status === 'SUCCESS') continue;
    const rec = buildRecords.find(r => r.image === b.image && r.key === b.key);
    if (!rec?.history.some(h => h.buildId === b.id && h.status === b.status))
      fail(
        `build ${b.id} of ${b.image}:${b.key} ended ${b.status}; its record's history does not say so`,
      );
  }
  for (const rec of buildRecords) {
    if (rec.status === 'CLAIMED' || !isTerminalBuildStatus(rec.status))
      fail(`build record ${rec.image}@${rec.key} left ${rec.status}`);
  }

  // No run left running; every redelivery after a thrown error is in the run.
  for (const run of runs) {
    if (!FINISHED_RUN_STATUSES.has(run.status))
      fail(
        `run ${run.id} (${run.kind}) left ${run.status}: ${run.steps.map(s => s.text).join(' | ')}`,
      );
    const transient = run.steps.filter(s =>
      s.text.startsWith('⟳ Transient failure'),
    ).length;
    if ((run.deliveries ?? 1) - 1 > transient)
      fail(
        `run ${run.id} (${run.kind}) was delivered ${run.deliveries} times but records ${transient} transient failures`,
      );
  }

  // Malformed messages: acknowledged once, with a recorded error.
  const byId = new Map(runs.map(r => [r.id, r]));
  for (const m of record.malformed) {
    const run = byId.get(m.id);
    if (!run) fail(`malformed ${m.topic} (${m.what}) left no run`);
    else if (run.status !== 'failed' && run.status !== 'refused')
      fail(`malformed ${m.topic} (${m.what}) ended ${run.status}`);
    else if (!run.error)
      fail(`malformed ${m.topic} (${m.what}) has no recorded error`);
    else if ((run.deliveries ?? 1) !== 1)
      fail(
        `malformed ${m.topic} (${m.what}) was delivered ${run.deliveries} times`,
      );
  }

  // No function crashed: the processes serving at the start serve at the end.
  const now = functionPids(driver);
  for (const [target, pid] of Object.entries(record.pids)) {
    if (now[target] !== pid)
      fail(`the ${target} process changed (${pid} → ${now[target]})`);
  }
  return violations;
}

/** Counts for the report: what the faults did. */
export function faultCounts(driver: StackDriver): {
  standInCalls: number;
  builds: number;
  failedBuilds: number;
  notifications: number;
} {
  const {artifactRegistry, cloudBuild} = driver.stack.standIns;
  const builds = driver.builds();
  return {
    standInCalls:
      artifactRegistry.calls.all().length + cloudBuild.calls.all().length,
    builds: builds.length,
    failedBuilds: builds.filter(
      b => isTerminalBuildStatus(b.status) && b.status !== 'SUCCESS',
    ).length,
    notifications: cloudBuild.notifications.length,
  };
}
