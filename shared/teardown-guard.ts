/**
 * The teardown guard: the only code path in this project that can delete a repository.
 *
 * Layers (a fourth, IAM, is deploy's):
 *  1. The target comes from config alone, and a real deletion needs `confirm` to equal it.
 *  2. The target must be the configured ephemeral id and never the persistent one; names
 *     are compared exactly (`arr-coc-registry` is a prefix of `arr-coc-registry-persistent`).
 *  3. Last copy: the repository must not hold the only copy of a persistent-tier image
 *     (the migration window from the old single registry; see `last-copy.ts`).
 *  3b. Live check: the repository must carry `arr-lifecycle=ephemeral`; anything unexpected
 *     means "do not delete".
 * `deleteApprovedRepository` accepts only a `DeletionApproval`, which nothing outside this
 * module can construct, so a wrong call cannot even be written.
 */
import type {ArtifactRegistryClient} from '@google-cloud/artifact-registry';
import {
  DockerImageInfo,
  LIFECYCLE_LABEL,
  RepositoryInfo,
  toRepositoryInfo,
} from './artifact-registry';
import type {Catalog} from './catalog';
import type {Config} from './config';
import {classifyError, describeError, GrpcStatus, grpcCode} from './errors';
import {describeStranded, StrandedImage, strandedImages} from './last-copy';
import {quote} from './quote';
import {isValidRepositoryId, repositoryResourceName} from './repository-id';
import {
  CLIENT_RETRY_OFF,
  DEFAULT_RETRY_POLICY,
  RetryPolicy,
  withRetry,
} from './retry';

export class GuardRefusal extends Error {
  constructor(reason: string) {
    super(`Teardown refused: ${reason}; nothing deleted`);
    this.name = 'GuardRefusal';
  }
}

/** Layer 3: the repository holds the only copy of a persistent-tier image. */
export class LastCopyRefusal extends GuardRefusal {
  constructor(
    readonly repositoryId: string,
    readonly stranded: readonly StrandedImage[],
  ) {
    super(
      `${repositoryId} holds the only copy of ${stranded.map(describeStranded).join('; ')}, a persistent-tier image; copy it to the persistent repository first`,
    );
    this.name = 'LastCopyRefusal';
  }
}

/** A lookup failed transiently: nothing deleted, and the event should be redelivered. */
export class GuardUnverified extends Error {
  constructor(
    reason: string,
    readonly code: number,
  ) {
    super(`Teardown could not verify the target: ${reason}; nothing deleted`);
    this.name = 'GuardUnverified';
  }
}

const issued = new WeakSet<object>();

/**
 * Proof that every layer of the guard passed for one repository. The class is not
 * exported (only its type is) and its private field makes the type nominal, so no other
 * module can construct or fake one; the WeakSet catches a forgery at run time too.
 */
class Approval {
  readonly #issuedByGuard = true;

  constructor(
    readonly repositoryId: string,
    readonly repositoryName: string,
    readonly repository: RepositoryInfo,
  ) {
    Object.freeze(this);
    issued.add(this);
  }

  get issuedByGuard(): boolean {
    return this.#issuedByGuard;
  }
}

export type DeletionApproval = Approval;

export interface GuardTarget {
  ephemeralId: string;
  ephemeralName: string;
  persistentId: string;
  persistentName: string;
}

/** Layer 2 on config alone: what the target is, and whether config allows deleting it. */
export function guardTarget(config: Config): GuardTarget {
  const persistentId = config.persistentRepository;
  const ephemeralId = config.ephemeralRepository;
  if (!persistentId || !ephemeralId) {
    throw new GuardRefusal('the repository names in config are empty');
  }
  if (!isValidRepositoryId(persistentId) || !isValidRepositoryId(ephemeralId)) {
    throw new GuardRefusal(
      `the repository names in config are malformed ("${persistentId}", "${ephemeralId}")`,
    );
  }
  if (ephemeralId === persistentId) {
    throw new GuardRefusal(
      `the configured ephemeral repository equals the persistent one ("${persistentId}")`,
    );
  }
  const ephemeralName = repositoryResourceName(
    config.projectId,
    config.region,
    ephemeralId,
  );
  const persistentName = repositoryResourceName(
    config.projectId,
    config.region,
    persistentId,
  );
  if (ephemeralName === persistentName) {
    throw new GuardRefusal(
      'the ephemeral resource name equals the persistent one',
    );
  }
  return {ephemeralId, ephemeralName, persistentId, persistentName};
}

export type ConfirmationMode =
  {mode: 'dry-run'; reason: string} | {mode: 'delete'};

/** Layer 1: without `confirm` (or with dryRun) it is a dry run; a wrong `confirm` is refused. */
export function confirmationMode(
  request: {confirm?: string; dryRun?: boolean},
  target: GuardTarget,
): ConfirmationMode {
  if (request.confirm !== undefined && request.confirm !== target.ephemeralId) {
    if (request.confirm === target.persistentId) {
      throw new GuardRefusal(
        `confirm names the persistent repository ${quote(request.confirm)}, which teardown never deletes`,
      );
    }
    throw new GuardRefusal(
      `confirm is ${quote(request.confirm)}, which is not the ephemeral repository id "${target.ephemeralId}" (it must match exactly)`,
    );
  }
  if (request.dryRun) return {mode: 'dry-run', reason: 'dryRun was requested'};
  if (request.confirm === undefined) {
    return {
      mode: 'dry-run',
      // Whoever sent it: an operator with arr, or a raw publish (the scheduler always confirms).
      reason: `no confirm (to delete ${target.ephemeralId}: arr teardown --confirm ${target.ephemeralId}, or a teardown-requested message with "confirm": "${target.ephemeralId}")`,
    };
  }
  return {mode: 'delete'};
}

export type LiveCheck =
  {state: 'absent'} | {state: 'deletable'; repository: RepositoryInfo};

/**
 * Layer 3: look at the repository itself. NOT_FOUND means the work is already done; a
 * repository without `arr-lifecycle=ephemeral`, or any failed lookup, is not deleted.
 */
export async function checkLiveTarget(
  client: ArtifactRegistryClient,
  target: GuardTarget,
  retry: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<LiveCheck> {
  let repository: RepositoryInfo;
  try {
    const [found] = await withRetry(
      () =>
        client.getRepository(
          {name: target.ephemeralName},
          {...CLIENT_RETRY_OFF},
        ),
      retry,
    );
    repository = toRepositoryInfo(found);
  } catch (error) {
    const kind = classifyError(error);
    if (kind === 'not-found') return {state: 'absent'};
    if (kind === 'transient') {
      throw new GuardUnverified(
        `GetRepository ${target.ephemeralId} failed (${describeError(error)})`,
        grpcCode(error) ?? GrpcStatus.UNAVAILABLE,
      );
    }
    throw new GuardRefusal(
      `GetRepository ${target.ephemeralId} failed (${describeError(error)}); a repository that cannot be inspected is not deleted`,
    );
  }
  if (repository.name !== target.ephemeralName) {
    throw new GuardRefusal(
      `the service returned "${repository.name}" for "${target.ephemeralName}"`,
    );
  }
  const lifecycle = repository.labels[LIFECYCLE_LABEL];
  if (lifecycle === undefined) {
    throw new GuardRefusal(
      `${target.ephemeralId} has no ${LIFECYCLE_LABEL} label (setup labels the ephemeral repository ${LIFECYCLE_LABEL}=ephemeral; run setup, or label it by hand after checking what it holds)`,
    );
  }
  if (lifecycle !== 'ephemeral') {
    throw new GuardRefusal(
      `${target.ephemeralId} is labelled ${LIFECYCLE_LABEL}=${lifecycle}, not ephemeral`,
    );
  }
  return {state: 'deletable', repository};
}

export interface LastCopyCheck {
  /** Persistent-tier versions in the ephemeral repository that the persistent one lacks. */
  stranded: readonly StrandedImage[];
}

/**
 * Layer 3, over the two repositories' current listings. An absent persistent repository
 * lists as empty, so every persistent-tier version in the ephemeral one counts as the
 * only copy: the rule fails closed.
 */
export function checkLastCopy(
  catalog: Catalog,
  ephemeralImages: readonly DockerImageInfo[],
  persistentImages: readonly DockerImageInfo[],
): LastCopyCheck {
  return {stranded: strandedImages(catalog, ephemeralImages, persistentImages)};
}

/** Every layer passed: the only way to obtain a DeletionApproval. */
export function approveDeletion(
  target: GuardTarget,
  mode: ConfirmationMode,
  live: LiveCheck,
  lastCopy: LastCopyCheck,
): DeletionApproval {
  if (mode.mode !== 'delete') throw new GuardRefusal('this is a dry run');
  if (live.state !== 'deletable')
    throw new GuardRefusal('the repository is absent');
  if (lastCopy.stranded.length > 0)
    throw new LastCopyRefusal(target.ephemeralId, lastCopy.stranded);
  return new Approval(
    target.ephemeralId,
    target.ephemeralName,
    live.repository,
  );
}

/**
 * What the delete found: it deleted the repository; it was already gone (a parallel run
 * got there first); or `gone-on-repeat`: an attempt failed transiently and the repeat
 * found it gone, so most likely that attempt deleted it and its answer was lost (or a
 * parallel run deleted it in between).
 */
export type DeleteOutcome = 'deleted' | 'already-gone' | 'gone-on-repeat';

/**
 * Delete the approved repository and wait for the operation, so the run record is the
 * truth. Safe to repeat after a transient failure: if the first call acted, the repeat
 * answers NOT_FOUND, which is success.
 */
export async function deleteApprovedRepository(
  client: ArtifactRegistryClient,
  approval: DeletionApproval,
  target: GuardTarget,
  retry: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<DeleteOutcome> {
  // Re-check at the last moment: a forged or stale approval never reaches the API.
  if (!issued.has(approval))
    throw new GuardRefusal('the deletion approval was not issued by the guard');
  if (
    approval.repositoryName !== target.ephemeralName ||
    approval.repositoryId !== target.ephemeralId ||
    approval.repositoryName === target.persistentName ||
    approval.repositoryId === target.persistentId
  ) {
    throw new GuardRefusal(
      `the approval names ${approval.repositoryName}, not the ephemeral repository`,
    );
  }
  return withRetry(async (attempt): Promise<DeleteOutcome> => {
    try {
      const [operation] = await client.deleteRepository(
        {name: approval.repositoryName},
        {...CLIENT_RETRY_OFF},
      );
      await operation.promise();
      return 'deleted';
    } catch (error) {
      if (classifyError(error) !== 'not-found') throw error;
      return attempt > 1 ? 'gone-on-repeat' : 'already-gone';
    }
  }, retry);
}
