/**
 * dockerfile-changed: build an image only when its cache key has no image yet, and start
 * exactly one Cloud Build per (image, key), however many deliveries arrive at once.
 */
import type {DocumentSnapshot} from '@google-cloud/firestore';
import {type CatalogImage, keyCoversOf} from './catalog';
import {cacheKey, describeContent, type ImageContent} from './cache-key';
import {LIFECYCLE_LABEL} from './artifact-registry';
import {quote} from './quote';
import {README_CONTEXT_DIGEST} from './readme-links';
import {repositoryForTier} from './config';
import type {Context} from './context';
import {OutcomeUnknownError, PermanentError, TransientError} from './errors';
import type {DockerfileChanged} from './messages';
import {
  applyBuildUpdate,
  BuildRecord,
  buildRecordId,
  claimBuild,
  ClaimOutcome,
  isActive,
  isFailed,
  readBuildRecord,
  recordBuildStarted,
  takeOverClaim,
} from './build-records';
import type {StartedBuild} from './image-build';
import {
  ManifestEntry,
  manifestEntries,
  markImageAbsent,
  recordLatestRequest,
  recordPresentImage,
} from './manifest';
import {publishDependents} from './dependents';
import {imagePath} from './repository-id';
import type {Run} from './runs';
import {isTerminalBuildStatus, BuildStatus} from './messages';
import {buildSeconds, countDecision, type Decision} from './savings';
import {describeBuildCost, ratesWith} from './build-rates';

/**
 * Count a decision in `stats/savings` alongside the run's own writes; awaited before the
 * handler returns (`await counted`), never left unhandled in between.
 */
function count(context: Context, decision: Decision): Promise<void> {
  const counted = context.clients
    .firestore()
    .then(firestore => countDecision(firestore, decision));
  counted.catch(() => undefined);
  return counted;
}

/** `: avoided a rebuild: built in 3 h 12 min on E2_HIGHCPU_32 (~$12.29), build 04da…`. */
function avoidedText(
  context: Context,
  reused: {seconds?: number; machineType: string; buildId?: string},
  adopted: boolean,
): string {
  if (reused.seconds === undefined) {
    return adopted
      ? '; it was adopted, so no build time is recorded for it'
      : '; the build time of the build that made it is not recorded';
  }
  return ` — avoided a rebuild: built in ${describeBuildCost(reused.seconds, reused.machineType, ratesWith(context.config.buildMinuteRates))}${reused.buildId ? `, build ${reused.buildId}` : ''}`;
}

/** A duplicate of a build: counted at its duration if it has one, else from its record later. */
function joined(
  context: Context,
  image: CatalogImage,
  record: BuildRecord,
): Promise<void> {
  const seconds =
    record.status === 'SUCCESS' ? buildSeconds(record) : undefined;
  return count(context, {
    kind: 'joined',
    image: image.name,
    machineType: record.machineType ?? image.machineType,
    reusedSeconds: seconds,
    joinedBuild: {image: record.image, key: record.key},
  });
}

export function catalogImage(context: Context, name: string): CatalogImage {
  const image = context.catalog.get(name);
  if (!image) {
    throw new PermanentError(
      `unknown image ${quote(name)} (the catalog has: ${context.catalog.names().join(', ')})`,
    );
  }
  return image;
}

/** Why a dockerfile-changed for a context-keyed image without a context digest is refused. */
export function missingContextDigest(image: string): string {
  return `${image} is keyed on its whole build context (catalog: "keyCovers": "context"), but the message has no contextDigest; compute it from the image's folder with \`arr changed ${image} --from <folder>\` (or the recipe in ${README_CONTEXT_DIGEST}) and publish again`;
}

/**
 * What the image's key is made of, as its catalog entry says: the Dockerfile hash, and
 * the context digest for a context-keyed image (refused without one: a key without it
 * would claim a build context nobody hashed).
 */
export async function imageContent(
  image: CatalogImage,
  request: Pick<DockerfileChanged, 'dockerfileHash' | 'contextDigest'>,
  run: Run,
): Promise<ImageContent> {
  if (keyCoversOf(image) === 'context') {
    if (request.contextDigest === undefined) {
      throw new PermanentError(missingContextDigest(image.name));
    }
    return {
      dockerfileHash: request.dockerfileHash,
      contextDigest: request.contextDigest,
    };
  }
  if (request.contextDigest !== undefined) {
    await run.info(
      `ℹ contextDigest ${request.contextDigest} not used: the catalog keys ${image.name} on its Dockerfile alone`,
    );
  }
  return {dockerfileHash: request.dockerfileHash};
}

interface ParentImage {
  image: string;
  key: string;
  digest: string;
  /** `<path>@sha256:…`: dependents build FROM the parent pinned by digest. */
  reference: string;
}

export async function handleDockerfileChange(
  request: DockerfileChanged,
  run: Run,
  context: Context,
): Promise<void> {
  const image = catalogImage(context, request.image);
  const repository = repositoryForTier(context.config, image.tier);
  const identity = {image: image.name, tier: image.tier, repository};
  const content = await imageContent(image, request, run);
  const firestore = await context.clients.firestore();

  // One read for the image and its parent: the cache-hit path stays at two remote calls.
  const images = manifestEntries(firestore);
  const refs = [images.doc(image.name)];
  if (image.parent) refs.push(images.doc(image.parent));
  // Firestore.getAll's declaration drops the model type; at run time each snapshot is
  // built with its reference's converter.
  const [entrySnapshot, parentSnapshot] = (await firestore.getAll(
    ...refs,
  )) as DocumentSnapshot<ManifestEntry>[];
  const entry = entrySnapshot.data();
  const latest = entry?.latestRequest;
  if (
    latest?.dockerfileHash !== request.dockerfileHash ||
    latest?.contextDigest !== content.contextDigest ||
    latest?.source !== request.source
  ) {
    await recordLatestRequest(firestore, identity, {
      dockerfileHash: request.dockerfileHash,
      contextDigest: content.contextDigest,
      source: request.source,
      requestedBy: request.requestedBy,
      at: new Date().toISOString(),
    });
  }

  let parent: ParentImage | undefined;
  if (image.parent) {
    let parentEntry = parentSnapshot?.data();
    if (!isPresent(parentEntry)) {
      // Read again after recording our request: a parent that succeeded in between
      // either sees our request (and publishes us) or is seen here. No lost wake-up.
      parentEntry = (await images.doc(image.parent).get()).data();
    }
    if (!isPresent(parentEntry)) {
      await run.result({kind: 'waiting', image: image.name});
      await run.info(
        `⏳ Waiting for ${image.parent}: it has no image yet; ${image.name} is built when it succeeds`,
      );
      await run.succeed(`Waiting for ${image.parent}`);
      return;
    }
    parent = {
      image: image.parent,
      key: parentEntry.key,
      digest: parentEntry.digest,
      reference: `${imagePath(context.config, parentEntry.repository, image.parent)}@${parentEntry.digest}`,
    };
  }

  const key = cacheKey(
    content,
    parent && {image: parent.image, key: parent.key},
  );
  await run.info(
    `ℹ ${image.name}: ${describeContent(content)}${parent ? ` on ${parent.image}:${parent.key}` : ''} → cache key ${key}`,
  );

  let checkedAbsentAt: Date | undefined;
  if (!request.force) {
    checkedAbsentAt = new Date();
    const tag = await context.registry.getTag(repository, image.name, key);
    if (tag && isPresent(entry) && entry.key === key) {
      const reused = {
        buildId: entry.buildId,
        seconds: entry.buildSeconds,
        machineType: entry.machineType ?? image.machineType,
      };
      const counted = count(context, {
        kind: 'cache-hit',
        image: image.name,
        machineType: reused.machineType,
        reusedSeconds: reused.seconds,
      });
      await run.result({kind: 'cache-hit', image: image.name, key, reused});
      await run.ok(
        `✓ Using cached ${image.name}:${key} (hash matches, no rebuild)${avoidedText(context, reused, entry.origin === 'adopted')}`,
      );
      await run.succeed(`Cached ${image.name}:${key}`);
      await counted;
      return;
    }
    if (tag) {
      // Our own build may have pushed it before its notification arrived: not an adoption.
      const ownRecord = await readBuildRecord(firestore, image.name, key);
      const own = await ownBuildOf(ownRecord, context);
      if (own) {
        await run.result({
          kind: 'joined',
          image: image.name,
          key,
          buildId: own,
        });
        if (ownRecord) await joined(context, image, ownRecord);
        await run.ok(
          `✓ ${image.name}:${key} already built (build ${own}); the manifest records it when Cloud Build's notification arrives`,
        );
        await run.succeed(`Already built ${image.name}:${key}`);
        return;
      }
      if (!(await holdsTier(repository, image, run, context))) return;
      await recordPresentImage(firestore, identity, {
        key,
        digest: tag.digest,
        dockerfileHash: request.dockerfileHash,
        contextDigest: content.contextDigest,
        source: request.source,
        builtAt: new Date().toISOString(),
        origin: 'adopted',
        parentKey: parent?.key,
        parentDigest: parent?.digest,
      });
      await run.result({kind: 'adopted', image: image.name, key});
      await count(context, {
        kind: 'adopted',
        image: image.name,
        machineType: image.machineType,
      });
      await run.ok(
        `✓ Adopted ${image.name}:${key} (${tag.digest}): already in ${repository}, pushed outside the control plane; no build`,
      );
      await publishDependents(image.name, key, run, context);
      await run.succeed(`Adopted ${image.name}:${key}`);
      return;
    }
    if (isPresent(entry) && entry.key === key) {
      await run.warn(
        `⚠ The manifest says ${image.name}:${key} is present, but ${repository} has no such tag; rebuilding`,
      );
      await markImageAbsent(firestore, image.name);
    }
  } else {
    await run.info(
      `ℹ force: rebuilding ${image.name}:${key} even if it is cached, with no layer cache at all (--no-cache)`,
    );
  }

  if (!(await holdsTier(repository, image, run, context))) return;
  await startOneBuild({
    image,
    repository,
    key,
    content,
    parent,
    request,
    run,
    context,
    checkedAbsentAt,
  });
}

/**
 * Before anything goes into a repository (a build) or is recorded from it (an adoption):
 * its live `arr-lifecycle` label must be the image's tier. Swapped repository names in
 * config would otherwise rebuild the base into the repository teardown deletes. A
 * mismatch refuses the run; it costs one GetRepository, off the cache-hit path.
 */
async function holdsTier(
  repository: string,
  image: CatalogImage,
  run: Run,
  context: Context,
): Promise<boolean> {
  const found = await context.registry.getRepository(repository);
  const variable =
    image.tier === 'persistent'
      ? 'PERSISTENT_REPOSITORY'
      : 'EPHEMERAL_REPOSITORY';
  let problem: string | undefined;
  if (!found) {
    problem = `${repository} (${variable}) does not exist; run setup first (arr setup)`;
  } else if (found.labels[LIFECYCLE_LABEL] !== image.tier) {
    const label = found.labels[LIFECYCLE_LABEL];
    problem = `${image.name} is a ${image.tier}-tier image, but ${repository} (${variable}) is ${label === undefined ? `not labelled ${LIFECYCLE_LABEL}` : `labelled ${LIFECYCLE_LABEL}=${label}`}; an image goes only into a repository of its own tier (check PERSISTENT_REPOSITORY and EPHEMERAL_REPOSITORY, then run setup)`;
  }
  if (problem === undefined) return true;
  context.log.error(problem, {image: image.name, repository});
  await run.refuse(`✗ Refused: ${problem}`);
  return false;
}

/**
 * The id of this control plane's build that may have pushed the key's tag: the record's,
 * or, for a claim whose CreateBuild went unanswered, the build its tags find.
 */
async function ownBuildOf(
  record: BuildRecord | undefined,
  context: Context,
): Promise<string | undefined> {
  if (!record) return undefined;
  if (record.buildId) {
    const live = record.status === 'SUCCESS' || isActive(record.status);
    return live ? record.buildId : undefined;
  }
  if (record.status !== 'CLAIMED') return undefined;
  const found = await context.builds.findAttempt(
    record.image,
    record.key,
    record.attempts,
  );
  return found?.id;
}

function isPresent(
  entry: ManifestEntry | undefined,
): entry is ManifestEntry & {key: string; digest: string} {
  return (
    entry?.present === true &&
    entry.key !== undefined &&
    entry.digest !== undefined
  );
}

interface BuildStart {
  image: CatalogImage;
  repository: string;
  key: string;
  content: ImageContent;
  parent?: ParentImage;
  request: DockerfileChanged;
  run: Run;
  context: Context;
  checkedAbsentAt?: Date;
}

async function startOneBuild(start: BuildStart): Promise<void> {
  const {image, key, run, context} = start;
  const label = `${image.name}:${key}`;
  await run.link({build: buildRecordId(image.name, key)});

  let outcome = await claim(start);
  if (outcome.kind === 'stale') {
    outcome = await resolveStaleClaim(outcome.record, start);
  }

  if (
    outcome.kind === 'building' ||
    outcome.kind === 'stale' ||
    outcome.kind === 'built'
  ) {
    await run.result({
      kind: 'joined',
      image: image.name,
      key,
      buildId: outcome.record.buildId,
    });
    await joined(context, image, outcome.record);
  }
  switch (outcome.kind) {
    case 'building': {
      const id = outcome.record.buildId
        ? `build ${outcome.record.buildId}`
        : 'build being created';
      await run.ok(`✓ ${label} already building (${id})`);
      await run.succeed(`Already building ${label}`);
      return;
    }
    case 'stale':
      await run.ok(
        `✓ ${label} still building (build ${outcome.record.buildId}, past its expected time)`,
      );
      await run.succeed(`Already building ${label}`);
      return;
    case 'exhausted': {
      const last = outcome.record;
      throw new PermanentError(
        `${label} failed ${last.failuresInRow} times in a row (last: ${last.status}${last.failureDetail ? `, ${last.failureDetail}` : ''}${last.logUrl ? `, logs ${last.logUrl}` : ''}); publish with force: true to try again`,
      );
    }
    case 'built':
      await run.ok(
        `✓ ${label} already built (build ${outcome.record.buildId}) while this delivery looked; no rebuild`,
      );
      await run.succeed(`Already built ${label}`);
      return;
    case 'claimed':
      break;
  }

  const record = outcome.record;
  if (outcome.resumed) {
    // This claim was ours before: its delivery was interrupted, or CreateBuild got no
    // answer. Its build may exist; look before starting one.
    const existing = await context.builds.findAttempt(
      image.name,
      key,
      record.attempts,
    );
    if (existing) {
      await recordStarted(start, {
        buildId: existing.id,
        logUrl: existing.logUrl,
      });
      await started(start, existing.id);
      await run.ok(
        `✓ ${label}: build ${existing.id} (attempt ${record.attempts}) was already started for this claim; not starting another`,
      );
      await run.succeed(`Building ${label} (build ${existing.id})`);
      return;
    }
  }

  const build = await createBuild(start, record.attempts);
  await recordStarted(start, build);
  await started(start, build.buildId);
  await run.ok(
    `⊕ Building ${label} → ${start.repository} (build ${build.buildId}, attempt ${record.attempts}${start.parent ? `, FROM ${start.parent.reference}` : ''}${build.foundAfterNoAnswer ? "; found by its tags after CreateBuild's answer was lost" : ''})`,
  );
  await run.succeed(`Building ${label} (build ${build.buildId})`);
}

/** This claim's build exists: the run says so as data, and the savings count it. */
async function started(start: BuildStart, buildId: string): Promise<void> {
  await start.run.result({
    kind: 'built',
    image: start.image.name,
    key: start.key,
    buildId,
  });
  await count(start.context, {
    kind: 'built',
    image: start.image.name,
    machineType: start.image.machineType,
  });
}

/**
 * Start the claim's build, exactly once. CreateBuild is never repeated blindly: when it
 * fails transiently, Cloud Build may have started the build and lost the answer, so the
 * build is looked up by the claim's tags. If none is listed (yet), nothing is started in
 * this delivery: a TransientError makes Pub/Sub redeliver, and the redelivery, which
 * holds the same claim (`resumed`), looks again before it starts one.
 */
async function createBuild(
  start: BuildStart,
  attempt: number,
): Promise<StartedBuild & {foundAfterNoAnswer?: boolean}> {
  const {image, key, run, context} = start;
  const label = `${image.name}:${key}`;
  try {
    return await context.builds.start({
      image,
      repository: start.repository,
      key,
      source: start.request.source,
      parentImage: start.parent?.reference,
      attempt,
      force: start.request.force === true,
    });
  } catch (error) {
    if (error instanceof OutcomeUnknownError) {
      await run.info(
        `ℹ CreateBuild for ${label} got no answer (${error.message}); it may have started the build: looking for attempt ${attempt} by its tags`,
      );
      const found = await context.builds.findAttempt(image.name, key, attempt);
      if (found) {
        return {
          buildId: found.id,
          logUrl: found.logUrl,
          foundAfterNoAnswer: true,
        };
      }
      throw new TransientError(
        `no build of ${label} (attempt ${attempt}) is listed after CreateBuild got no answer (${error.message}); none started in this delivery, the redelivery looks again first`,
        {cause: error},
      );
    }
    if (error instanceof PermanentError) {
      // Release the claim, so a corrected setup can retry this key.
      const firestore = await context.clients.firestore();
      await applyBuildUpdate(firestore, image.name, key, {
        buildId: `not-created-attempt-${attempt}`,
        status: 'FAILURE',
        attempt,
        failureDetail: error.message,
      });
    }
    throw error;
  }
}

/** The claim's build exists: record its id, and how long it may run. */
async function recordStarted(
  start: BuildStart,
  build: StartedBuild,
): Promise<void> {
  await recordBuildStarted(
    await start.context.clients.firestore(),
    start.image.name,
    start.key,
    {
      buildId: build.buildId,
      logUrl: build.logUrl,
      timeoutSeconds: start.image.buildTimeoutSeconds,
      now: new Date(),
    },
  );
}

function claim(start: BuildStart): Promise<ClaimOutcome> {
  return start.context.clients.firestore().then(firestore =>
    claimBuild(firestore, {
      image: start.image.name,
      key: start.key,
      tier: start.image.tier,
      repository: start.repository,
      dockerfileHash: start.request.dockerfileHash,
      contextDigest: start.content.contextDigest,
      source: start.request.source,
      parentKey: start.parent?.key,
      parentDigest: start.parent?.digest,
      machineType: start.image.machineType,
      runId: start.run.id,
      maxAttempts: start.context.config.maxBuildAttempts,
      force: start.request.force === true,
      checkedAbsentAt: start.checkedAbsentAt,
      now: new Date(),
    }),
  );
}

/** An active claim past its deadline is checked against Cloud Build before it blocks. */
async function resolveStaleClaim(
  record: BuildRecord,
  start: BuildStart,
): Promise<ClaimOutcome> {
  const {context, run, image, key} = start;
  const firestore = await context.clients.firestore();
  if (!record.buildId) {
    const taken = await takeOverClaim(
      firestore,
      image.name,
      key,
      run.id,
      new Date(),
    );
    if (taken) {
      await run.warn(
        `⚠ Took over a claim on ${image.name}:${key} whose holder never started its build`,
      );
      return {kind: 'claimed', record: taken, resumed: true};
    }
    return claim(start);
  }
  const build = await context.builds.get(record.buildId);
  const status = (build?.status ?? 'EXPIRED') as BuildStatus;
  if (!isTerminalBuildStatus(status)) return {kind: 'stale', record};
  await applyBuildUpdate(firestore, image.name, key, {
    buildId: record.buildId,
    status,
    attempt: record.attempts,
    logUrl: build?.logUrl,
    finishTime: build?.finishTime,
    failureDetail: build
      ? build.failureDetail
      : 'build not found in Cloud Build',
  });
  await run.info(
    `ℹ Build ${record.buildId} of ${image.name}:${key} had finished (${status}) without its notification reaching us`,
  );
  if (status === 'SUCCESS') {
    // Its image is recorded by build-finished; here it only needs building again if gone.
    return claim(start);
  }
  return isFailed(status) ? claim(start) : {kind: 'stale', record};
}
