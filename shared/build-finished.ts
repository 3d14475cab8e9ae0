/**
 * build-finished: a `cloud-builds` notification names a build; Cloud Build is asked what
 * became of it (shared/build-notification.ts says why), and its answer moves the build
 * record, forward only. A SUCCESS records the image in the manifest, rebuilds dependents
 * and cleans up old versions, each side effect once, even when the notification is
 * duplicated, redelivered, stale or forged.
 */
import type {Firestore} from '@google-cloud/firestore';
import type {ArtifactRegistry} from './artifact-registry';
import {type Config, repositoryForTier} from './config';
import {
  activeBuildsInto,
  applyBuildUpdate,
  buildRecordId,
  BuildRecord,
  markBuildSideEffect,
} from './build-records';
import {type BuildNotificationHint, differences} from './build-notification';
import {applyCleanupPlan} from './cleanup';
import {CleanupPlan, describeCleanupPlan, planCleanup} from './cleanup-planner';
import type {Context} from './context';
import {publishDependents} from './dependents';
import {PermanentError} from './errors';
import {isTerminalBuildStatus} from './messages';
import {
  attemptOf,
  type BuildSnapshot,
  CONTROL_PLANE_BUILD_TAG,
} from './image-build';
import {catalogImage} from './dockerfile-changed';
import {recordPresentImage} from './manifest';
import {
  describePersistentCleanup,
  oldVersionDeleter,
} from './persistent-cleanup-policy';
import {quote} from './quote';
import {imagePath} from './repository-id';
import type {Run} from './runs';
import {
  buildSeconds,
  countLayerReuse,
  lastColdBuildSeconds,
  layerReuseSaving,
} from './savings';
import {
  describeLayerReport,
  type LayerReport,
  parseLayerReport,
} from './layer-report';

export async function handleBuildNotification(
  hint: BuildNotificationHint,
  run: Run,
  context: Context,
): Promise<void> {
  const id = hint.buildId;
  const projectId = context.config.projectId;
  const notOursByItsWord = hint.body && notStartedHere(hint.body, projectId);
  if (notOursByItsWord) {
    // Ignoring is safe whoever sent it; only acting needs Cloud Build's word.
    await run.info(
      `ℹ Build ${id}: ${notOursByItsWord}, by the notification's own account; ignored`,
    );
    await run.succeed(`Ignored build ${id}`);
    return;
  }
  if (hint.bodyProblem) {
    await run.warn(
      `⚠ Build ${id}: the notification's data is not a Build as Cloud Build writes it (${hint.bodyProblem}); only its build id is used`,
    );
  }
  const build = await askCloudBuild(id, context);
  if (!build) {
    await run.warn(
      `⚠ Build ${id} is unknown to Cloud Build in project ${projectId}; the notification is ignored: Cloud Build did not send it for a build of this project`,
    );
    await run.succeed(`Ignored build ${id}: unknown to Cloud Build`);
    return;
  }
  for (const difference of differences(hint, build)) {
    if (difference.kind === 'stale') {
      await run.info(`ℹ Build ${id}: ${difference.text}`);
    } else {
      await run.warn(
        `⚠ Build ${id}: ${difference.text}; acting on Cloud Build's answer`,
      );
    }
  }
  const notOurs = notStartedHere(build, projectId);
  if (notOurs) {
    await run.info(
      `ℹ Build ${id}: ${notOurs}, by Cloud Build's account; ignored`,
    );
    await run.succeed(`Ignored build ${id}`);
    return;
  }
  await recordCloudBuildAnswer(build, run, context);
}

/** GetBuild, once (retried in process only on transient faults); a refusal is permanent. */
async function askCloudBuild(
  id: string,
  context: Context,
): Promise<BuildSnapshot | null> {
  try {
    return await context.builds.get(id);
  } catch (error) {
    if (error instanceof PermanentError) {
      throw new PermanentError(
        `Cloud Build could not be asked about build ${id}, so its notification was not acted on: ${error.message}`,
        {cause: error},
      );
    }
    throw error;
  }
}

/** Why a build is not one this control plane started, in its project; undefined if it is. */
function notStartedHere(
  build: {
    projectId?: string;
    tags?: string[];
    substitutions?: Record<string, string>;
  },
  projectId: string,
): string | undefined {
  if (build.projectId !== undefined && build.projectId !== projectId)
    return `it belongs to project ${quote(build.projectId)}, not ${projectId}`;
  if (!(build.tags ?? []).includes(CONTROL_PLANE_BUILD_TAG))
    return `it was not started by this control plane (no ${CONTROL_PLANE_BUILD_TAG} tag)`;
  if (
    build.substitutions?._IMAGE === undefined ||
    build.substitutions?._CACHE_KEY === undefined
  )
    return 'it names no image and cache key (_IMAGE, _CACHE_KEY)';
  return undefined;
}

async function recordCloudBuildAnswer(
  build: BuildSnapshot,
  run: Run,
  context: Context,
): Promise<void> {
  const image = build.substitutions._IMAGE;
  const key = build.substitutions._CACHE_KEY;
  const catalogEntry = catalogImage(context, image);
  const repository = repositoryForTier(context.config, catalogEntry.tier);
  const label = `${image}:${key}`;
  const path = imagePath(context.config, repository, image);
  const digest = build.images.find(i => i.name === `${path}:${key}`)?.digest;
  const layers =
    build.status === 'SUCCESS' ? imageBuildLayerReport(build) : undefined;

  const firestore = await context.clients.firestore();
  await run.link({build: buildRecordId(image, key)});
  const outcome = await applyBuildUpdate(firestore, image, key, {
    buildId: build.id,
    status: build.status,
    attempt: attemptOf(build.tags),
    startTime: build.startTime,
    finishTime: build.finishTime,
    digest,
    logUrl: build.logUrl,
    failureDetail: build.failureDetail,
    layers,
  });
  if (outcome.kind === 'unknown') {
    await run.warn(
      `⚠ ${label}: no build record for build ${build.id}; ignored`,
    );
    await run.succeed(`Unknown build ${build.id}`);
    return;
  }
  const record = outcome.record;
  if (outcome.kind === 'as-started') {
    await run.info(
      `ℹ ${label} build ${build.id}: ${build.status} (as recorded when it was started)`,
    );
  } else if (outcome.kind === 'unchanged') {
    await run.info(
      `ℹ ${label} build ${build.id}: ${build.status} changes nothing (${outcome.reason})`,
    );
  } else {
    await run.info(
      `ℹ ${label} build ${build.id}: ${outcome.previous} → ${build.status}`,
    );
  }

  if (record.status === 'SUCCESS' && record.buildId === build.id) {
    await finishSuccessfulBuild(record, repository, run, context);
    await run.succeed(`${label} built`);
    return;
  }
  if (
    outcome.kind === 'applied' &&
    isTerminalBuildStatus(build.status) &&
    build.status !== 'SUCCESS'
  ) {
    await run.warn(
      `✗ ${label} build ${build.id} ended ${build.status}${record.failureDetail ? `: ${record.failureDetail}` : ''}${record.logUrl ? ` (logs: ${record.logUrl})` : ''}; the next dockerfile-changed for this key retries it (attempt ${record.attempts}, ${record.failuresInRow} failed in a row)`,
    );
  }
  await run.succeed(`${label}: ${record.status}`);
}

/** The layer report the image build step wrote (cloudbuild/image-build.json's `build` step). */
function imageBuildLayerReport(build: BuildSnapshot): LayerReport | undefined {
  const index = build.steps.findIndex(step => step.id === 'build');
  return parseLayerReport(build.stepOutputs[index < 0 ? 0 : index] ?? '');
}

/** A key change that took layers from the cache: what it did not cost, in stats/savings. */
async function countKeyChangeReuse(
  record: BuildRecord,
  firestore: Firestore,
): Promise<void> {
  if (!record.layers || record.layers.cached === 0) return;
  const saved = layerReuseSaving(
    record,
    await lastColdBuildSeconds(firestore, record.image),
  );
  if (saved !== undefined)
    await countLayerReuse(firestore, record.image, saved);
}

/** Each side effect of a SUCCESS is recorded when done, so a redelivery never repeats it. */
async function finishSuccessfulBuild(
  record: BuildRecord,
  repository: string,
  run: Run,
  context: Context,
): Promise<void> {
  // All of it was done: a repeat, or a replay after a teardown removed the image, must
  // not record the image again.
  if (record.dependentsPublished && record.cleanedUp) return;
  const firestore = await context.clients.firestore();
  const label = `${record.image}:${record.key}`;
  const digest =
    record.digest ??
    (await context.registry.getTag(repository, record.image, record.key))
      ?.digest;
  if (!digest) {
    await run.warn(
      `⚠ ${label}: the build reported no digest and the tag is missing; not recorded`,
    );
    return;
  }
  const recorded = await recordPresentImage(
    firestore,
    {image: record.image, tier: record.tier, repository},
    {
      key: record.key,
      digest,
      dockerfileHash: record.dockerfileHash,
      contextDigest: record.contextDigest,
      source: record.source,
      builtAt: record.finishTime ?? new Date().toISOString(),
      buildId: record.buildId,
      buildSeconds: buildSeconds(record),
      machineType: record.machineType,
      origin: 'built',
      parentKey: record.parentKey,
      parentDigest: record.parentDigest,
    },
  );
  if (recorded === 'recorded') {
    await run.ok(`✓ ${label} built and recorded (${digest})`);
    if (record.layers) {
      await run.info(`ℹ ${label}: ${describeLayerReport(record.layers)}`);
    }
  } else if (recorded === 'newer-present') {
    await run.info(
      `ℹ ${label} finished after a newer image; the manifest keeps the newer one`,
    );
    return;
  }

  if (!record.layerReuseCounted) {
    await countKeyChangeReuse(record, firestore);
    await markBuildSideEffect(
      firestore,
      record.image,
      record.key,
      'layerReuseCounted',
    );
  }
  if (!record.dependentsPublished) {
    await publishDependents(record.image, record.key, run, context);
    await markBuildSideEffect(
      firestore,
      record.image,
      record.key,
      'dependentsPublished',
    );
  }
  if (!record.cleanedUp) {
    await cleanUpOldVersions(record, repository, run, context);
    await markBuildSideEffect(firestore, record.image, record.key, 'cleanedUp');
  }
}

/**
 * The cleanup plan for an image whose current key is `currentKey`: what a build-finished
 * run applies, and what `arr cleanup` shows beforehand, from the same inputs.
 */
export async function planImageCleanup(
  deps: {registry: ArtifactRegistry; firestore: Firestore; config: Config},
  image: string,
  currentKey: string,
  repository: string,
  now: Date = new Date(),
): Promise<CleanupPlan> {
  const {registry, firestore, config} = deps;
  const [versions, running] = await Promise.all([
    registry.listVersions(repository, image),
    activeBuildsInto(firestore, config.ephemeralRepository).then(
      async builds => [
        ...builds,
        ...(repository === config.ephemeralRepository
          ? []
          : await activeBuildsInto(firestore, repository)),
      ],
    ),
  ]);
  return planCleanup({
    versions,
    currentKey,
    protectedDigests: running.flatMap(b =>
      b.parentDigest ? [b.parentDigest] : [],
    ),
    protectedKeys: running.filter(b => b.image === image).map(b => b.key),
    now,
  });
}

export async function cleanUpOldVersions(
  record: Pick<BuildRecord, 'image' | 'key'>,
  repository: string,
  run: Run,
  context: Context,
): Promise<void> {
  if (oldVersionDeleter(context.config, repository) === 'cleanup policy') {
    await run.info(
      `ℹ Cleanup ${record.image}: old versions in ${repository} are removed by its Artifact Registry cleanup policy (${describePersistentCleanup()})`,
    );
    return;
  }
  const firestore = await context.clients.firestore();
  const plan = await planImageCleanup(
    {registry: context.registry, firestore, config: context.config},
    record.image,
    record.key,
    repository,
  );
  for (const line of describeCleanupPlan(record.image, plan)) {
    await run.info(line);
  }
  if (plan.deletions.length === 0) return;
  const result = await applyCleanupPlan(
    context.registry,
    repository,
    record.image,
    plan,
  );
  for (const failure of result.failed) {
    await run.warn(
      `⚠ Cleanup could not delete ${failure.digest}: ${failure.reason}`,
    );
  }
}
