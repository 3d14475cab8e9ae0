/**
 * build-finished: Cloud Build's status feed. Status only moves forward; a SUCCESS records
 * the image in the manifest, rebuilds dependents and cleans up old versions, each side
 * effect once, even when the notification is duplicated or redelivered.
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
import {applyCleanupPlan} from './cleanup';
import {CleanupPlan, describeCleanupPlan, planCleanup} from './cleanup-planner';
import type {Context} from './context';
import {publishDependents} from './dependents';
import {BuildNotification, isTerminalBuildStatus} from './messages';
import {attemptOf, CONTROL_PLANE_BUILD_TAG} from './image-build';
import {catalogImage} from './dockerfile-changed';
import {recordPresentImage} from './manifest';
import {
  describePersistentCleanup,
  oldVersionDeleter,
} from './persistent-cleanup-policy';
import {imagePath} from './repository-id';
import type {Run} from './runs';
import {buildSeconds} from './savings';

export async function handleBuildNotification(
  build: BuildNotification,
  run: Run,
  context: Context,
): Promise<void> {
  const image = build.substitutions?._IMAGE;
  const key = build.substitutions?._CACHE_KEY;
  const ours =
    (build.tags ?? []).includes(CONTROL_PLANE_BUILD_TAG) &&
    image !== undefined &&
    key !== undefined &&
    (build.projectId === undefined ||
      build.projectId === context.config.projectId);
  if (!ours) {
    await run.info(
      `ℹ Build ${build.id} was not started by this control plane; ignored`,
    );
    await run.succeed(`Ignored build ${build.id}`);
    return;
  }
  const catalogEntry = catalogImage(context, image);
  const repository = repositoryForTier(context.config, catalogEntry.tier);
  const label = `${image}:${key}`;
  const path = imagePath(context.config, repository, image);
  const digest = build.results?.images?.find(
    i => i.name === `${path}:${key}`,
  )?.digest;

  const firestore = await context.clients.firestore();
  await run.link({build: buildRecordId(image, key)});
  const outcome = await applyBuildUpdate(firestore, image, key, {
    buildId: build.id,
    status: build.status,
    attempt: attemptOf(build.tags ?? []),
    startTime: build.startTime,
    finishTime: build.finishTime,
    digest,
    logUrl: build.logUrl,
    failureDetail: build.failureInfo?.detail ?? build.statusDetail,
  });
  if (outcome.kind === 'unknown') {
    await run.warn(
      `⚠ ${label}: no build record for build ${build.id}; ignored`,
    );
    await run.succeed(`Unknown build ${build.id}`);
    return;
  }
  const record = outcome.record;
  if (outcome.kind === 'unchanged') {
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

/** Each side effect of a SUCCESS is recorded when done, so a redelivery never repeats it. */
async function finishSuccessfulBuild(
  record: BuildRecord,
  repository: string,
  run: Run,
  context: Context,
): Promise<void> {
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
  if (recorded === 'recorded')
    await run.ok(`✓ ${label} built and recorded (${digest})`);
  else if (recorded === 'newer-present') {
    await run.info(
      `ℹ ${label} finished after a newer image; the manifest keeps the newer one`,
    );
    return;
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
