/**
 * Teardown: delete the ephemeral repository (through the guard, and only through it),
 * report what was deleted and what was preserved, and bring the manifest in line.
 */
import type {DockerImageInfo} from './artifact-registry';
import {activeBuildsInto} from './build-records';
import type {Context} from './context';
import type {TeardownRequest} from './messages';
import {markRepositoryImagesAbsent, readManifest} from './manifest';
import {describeBuildCost, ratesWith} from './build-rates';
import {recordRepository} from './repository-records';
import type {Run} from './runs';
import {
  approveDeletion,
  checkLastCopy,
  checkLiveTarget,
  confirmationMode,
  deleteApprovedRepository,
  DeleteOutcome,
  GuardRefusal,
  guardTarget,
  GuardTarget,
  GuardUnverified,
  LastCopyRefusal,
  LiveCheck,
} from './teardown-guard';
import {TransientError} from './errors';
import {formatBytes} from './format-bytes';
import {findStrandedImages, reportStranded} from './last-copy';

export async function tearDown(
  request: TeardownRequest,
  run: Run,
  context: Context,
): Promise<void> {
  let target: GuardTarget;
  let mode;
  try {
    target = guardTarget(context.config);
    mode = confirmationMode(request, target);
  } catch (error) {
    if (error instanceof GuardRefusal) return refuse(run, context, error);
    throw error;
  }

  if (request.skipImages) {
    await run.warn('⚠ Skipping registry deletion (skip-images)');
    await run.succeed(
      'Artifact Registry skipped (skip-images); nothing changed',
    );
    return;
  }
  const dry = mode.mode === 'dry-run';
  if (mode.mode === 'dry-run') await run.info(`Dry run: ${mode.reason}`);

  const client = await context.clients.artifactRegistry();
  let live: LiveCheck;
  try {
    live = await checkLiveTarget(client, target, context.retry);
  } catch (error) {
    if (error instanceof GuardRefusal) {
      // Refused on its label; say what else is at stake before anyone labels it by hand.
      await reportStrandedIfReadable(run, context);
      return refuse(run, context, error);
    }
    if (error instanceof GuardUnverified) {
      context.log.error(error.message, {repository: target.ephemeralId});
      await run.step('error', `✗ ${error.message}`);
      throw new TransientError(error.message, {cause: error});
    }
    throw error;
  }

  const [ephemeralImages, persistentImages] = await Promise.all([
    live.state === 'absent'
      ? []
      : context.registry.listDockerImages(target.ephemeralId),
    context.registry.listDockerImages(target.persistentId),
  ]);
  const lastCopy = checkLastCopy(
    context.catalog,
    ephemeralImages,
    persistentImages,
  );
  await warnAboutRunningBuilds(run, context, target.ephemeralId);

  let deleted = false;
  if (live.state === 'absent') {
    await run.ok(`✓ Nothing to delete: ${target.ephemeralId} does not exist`);
  } else if (lastCopy.stranded.length > 0) {
    await reportStranded(run, lastCopy.stranded, context.config);
    if (!dry) {
      const refusal = new LastCopyRefusal(
        target.ephemeralId,
        lastCopy.stranded,
      );
      return refuse(run, context, refusal);
    }
    await run.warn(
      `⚠ Would refuse to delete ${target.ephemeralId} until the image above is copied`,
    );
  } else if (dry) {
    await run.info(
      `Would delete: ${target.ephemeralId} (${describeContents(ephemeralImages)})`,
    );
  } else {
    const approval = approveDeletion(target, mode, live, lastCopy);
    await run.info(`🗑 Deleting repository: ${target.ephemeralId}...`);
    const outcome = await deleteApprovedRepository(
      client,
      approval,
      target,
      context.retry,
    );
    deleted = outcome !== 'already-gone';
    await run.ok(deletedLine(outcome, target.ephemeralId, ephemeralImages));
  }

  await reportPreserved(run, context, target, persistentImages, dry);

  if (!dry) {
    const firestore = await context.clients.firestore();
    const marked = await markRepositoryImagesAbsent(
      firestore,
      target.ephemeralId,
    );
    await recordRepository(firestore, {
      id: target.ephemeralId,
      tier: 'ephemeral',
      state: 'deleted',
      verifiedAt: new Date().toISOString(),
      warnings: [],
      runId: run.id,
    });
    if (marked.length > 0) {
      await run.info(`ℹ Manifest: marked not present: ${marked.join(', ')}`);
    }
  }
  await run.succeed(outcome());

  function outcome(): string {
    const kept = `${target.persistentId} preserved`;
    if (live.state === 'absent') {
      return `${dry ? 'Dry run: nothing to delete' : `${target.ephemeralId} already absent; nothing deleted`}; ${kept}`;
    }
    if (lastCopy.stranded.length > 0) {
      return `Dry run: would refuse to delete ${target.ephemeralId} (it holds the only copy of ${[...new Set(lastCopy.stranded.map(i => i.image))].join(', ')}); ${kept}`;
    }
    if (dry) return `Dry run: would delete ${target.ephemeralId}; ${kept}`;
    return deleted
      ? `${target.ephemeralId} deleted; ${kept}`
      : `${target.ephemeralId} already absent; nothing deleted; ${kept}`;
  }
}

async function reportStrandedIfReadable(
  run: Run,
  context: Context,
): Promise<void> {
  let stranded;
  try {
    stranded = await findStrandedImages(
      context.registry,
      context.catalog,
      context.config,
    );
  } catch {
    return; // The refusal stands on its own; this was only advice.
  }
  await reportStranded(run, stranded, context.config);
}

function deletedLine(
  outcome: DeleteOutcome,
  id: string,
  images: DockerImageInfo[],
): string {
  switch (outcome) {
    case 'deleted':
      return `✓ Deleted: ${id} (${describeContents(images)})`;
    case 'gone-on-repeat':
      return `✓ Deleted: ${id} (${describeContents(images)}); the delete's answer was lost and its repeat found it gone (deleted by that call, or by a parallel run)`;
    case 'already-gone':
      return `✓ Nothing deleted: ${id} was already absent (deleted by a parallel run)`;
  }
}

async function refuse(
  run: Run,
  context: Context,
  refusal: GuardRefusal,
): Promise<void> {
  context.log.error(refusal.message, {guard: 'teardown'});
  await run.refuse(`✗ ${refusal.message}`);
}

async function warnAboutRunningBuilds(
  run: Run,
  context: Context,
  repository: string,
) {
  const firestore = await context.clients.firestore();
  const running = await activeBuildsInto(firestore, repository);
  for (const build of running) {
    await run.warn(
      `⚠ Build still running into ${repository}: ${build.image}:${build.key} (${build.status}${build.buildId ? `, build ${build.buildId}` : ''})`,
    );
  }
}

async function reportPreserved(
  run: Run,
  context: Context,
  target: GuardTarget,
  persistentImages: DockerImageInfo[],
  dry: boolean,
): Promise<void> {
  const names = [...new Set(persistentImages.map(i => i.image))];
  const size = formatBytes(
    persistentImages.reduce((sum, i) => sum + i.sizeBytes, 0),
  );
  const contents =
    names.length > 0 ? `${names.join(', ')}, ${size}` : 'no images yet';
  await run.info(
    `${dry ? 'Would preserve' : 'Preserved'}: ${target.persistentId} (${contents}) — prevents a 2–4 hour rebuild`,
  );
  for (const line of await reuseLines(context, persistentImages)) {
    await run.info(line);
  }
  await run.info(
    `   To delete it manually (if you really mean to): gcloud artifacts repositories delete ${target.persistentId} --location=${context.config.region} --project=${context.config.projectId}`,
  );
}

/**
 * What keeping the persistent repository saves, image by image: the build that produced
 * each image the next setup reuses, at its recorded duration and machine type.
 */
async function reuseLines(
  context: Context,
  persistentImages: DockerImageInfo[],
): Promise<string[]> {
  const firestore = await context.clients.firestore();
  const rates = ratesWith(context.config.buildMinuteRates);
  const lines: string[] = [];
  for (const entry of await readManifest(firestore)) {
    if (entry.tier !== 'persistent' || !entry.present || !entry.key) continue;
    const kept = persistentImages.some(
      i => i.image === entry.image && i.tags.includes(entry.key!),
    );
    if (!kept) continue;
    const machineType =
      entry.machineType ?? context.catalog.get(entry.image)?.machineType;
    lines.push(
      entry.buildSeconds !== undefined && machineType
        ? `   Reused by the next setup: ${entry.image}:${entry.key}, built in ${describeBuildCost(entry.buildSeconds, machineType, rates)}${entry.buildId ? `, build ${entry.buildId}` : ''}`
        : `   Reused by the next setup: ${entry.image}:${entry.key} (${entry.origin === 'adopted' ? 'adopted' : 'built'}; no build time recorded)`,
    );
  }
  return lines;
}

export function describeContents(images: DockerImageInfo[]): string {
  const names = [...new Set(images.map(i => i.image))].sort();
  const size = formatBytes(images.reduce((sum, i) => sum + i.sizeBytes, 0));
  if (names.length === 0) return 'no images';
  return `images: ${names.join(', ')}; ${images.length} version${images.length === 1 ? '' : 's'}, ${size}`;
}
