/**
 * Cleanup of old image versions as a pure function: a listing and a policy in, a plan out.
 * The plan is applied exactly as planned, and a dry run prints exactly the plan, so what
 * an operator reviews is what happens.
 *
 * One deleter per repository, or the two would disagree about what to keep: this plan in
 * the ephemeral repository, the persistent repository's own Artifact Registry cleanup
 * policy there (shared/persistent-cleanup-policy.ts says which is which).
 */

export interface VersionListing {
  digest: string;
  tags: readonly string[];
  uploadTime: Date;
  sizeBytes: number;
}

export interface CleanupPolicy {
  /** Previous cache keys kept besides the current one. */
  keepPrevious: number;
  /** Nothing younger than this is deleted (a push may still be settling). */
  gracePeriodMs: number;
  /** At most this many versions deleted per run; the rest wait for the next run. */
  maxDeletions: number;
}

export const DEFAULT_CLEANUP_POLICY: CleanupPolicy = {
  keepPrevious: 2,
  gracePeriodMs: 60 * 60_000,
  maxDeletions: 50,
};

export interface CleanupInputs {
  versions: readonly VersionListing[];
  currentKey: string;
  /** Digests a running build depends on (e.g. a dependent building FROM it). */
  protectedDigests?: readonly string[];
  /** Keys a running build of this image is pushing. */
  protectedKeys?: readonly string[];
  now: Date;
}

export interface PlannedDeletion {
  digest: string;
  /** Deleted before the version: tags before digests. */
  tags: string[];
  sizeBytes: number;
  uploadTime: Date;
}

export interface KeptVersion {
  digest: string;
  tags: string[];
  reasons: string[];
}

export interface CleanupPlan {
  deletions: PlannedDeletion[];
  kept: KeptVersion[];
  /** Would be deleted, but over the per-run cap. */
  deferred: PlannedDeletion[];
}

const KEY_TAG = /^[0-9a-f]{12}$/;

/** Why :latest is kept: it is the layer cache the next build of the image imports. */
export const LAYER_CACHE_REASON = ":latest (the next build's layer cache)";

export function planCleanup(
  inputs: CleanupInputs,
  policy: CleanupPolicy = DEFAULT_CLEANUP_POLICY,
): CleanupPlan {
  const protectedDigests = new Set(inputs.protectedDigests ?? []);
  const protectedKeys = new Set(inputs.protectedKeys ?? []);
  const newestFirst = [...inputs.versions].sort(
    (a, b) =>
      b.uploadTime.getTime() - a.uploadTime.getTime() ||
      a.digest.localeCompare(b.digest),
  );

  const previousKeyVersions = newestFirst
    .filter(
      v =>
        !v.tags.includes(inputs.currentKey) &&
        v.tags.some(t => KEY_TAG.test(t)),
    )
    .slice(0, policy.keepPrevious)
    .map(v => v.digest);

  const kept: KeptVersion[] = [];
  const candidates: PlannedDeletion[] = [];
  for (const version of newestFirst) {
    const reasons: string[] = [];
    if (version.tags.includes(inputs.currentKey)) reasons.push('current key');
    // The next build of this image imports its layer cache from :latest (image-build.ts).
    if (version.tags.includes('latest')) reasons.push(LAYER_CACHE_REASON);
    const previous = previousKeyVersions.indexOf(version.digest);
    if (previous >= 0)
      reasons.push(`previous key ${previous + 1} of ${policy.keepPrevious}`);
    if (
      inputs.now.getTime() - version.uploadTime.getTime() <
      policy.gracePeriodMs
    ) {
      reasons.push('within the grace period');
    }
    if (protectedDigests.has(version.digest))
      reasons.push('used by a running build');
    if (version.tags.some(t => protectedKeys.has(t)))
      reasons.push('being pushed by a running build');
    if (reasons.length > 0) {
      kept.push({digest: version.digest, tags: [...version.tags], reasons});
    } else {
      candidates.push({
        digest: version.digest,
        tags: [...version.tags].sort(),
        sizeBytes: version.sizeBytes,
        uploadTime: version.uploadTime,
      });
    }
  }
  // Oldest go first when the cap cuts the list.
  candidates.reverse();
  return {
    deletions: candidates.slice(0, policy.maxDeletions),
    kept,
    deferred: candidates.slice(policy.maxDeletions),
  };
}

/** The plan as the lines an operator reads, in the order it is applied. */
export function describeCleanupPlan(
  image: string,
  plan: CleanupPlan,
): string[] {
  if (plan.deletions.length === 0 && plan.deferred.length === 0) {
    return [`ℹ Cleanup ${image}: nothing to delete (${plan.kept.length} kept)`];
  }
  const lines = [
    `🗑 Cleanup ${image}: delete ${plan.deletions.length} version${plan.deletions.length === 1 ? '' : 's'}, keep ${plan.kept.length}${plan.deferred.length ? `, ${plan.deferred.length} left for the next run (cap)` : ''}`,
  ];
  for (const deletion of plan.deletions) {
    const tags = deletion.tags.length
      ? ` (tags ${deletion.tags.join(', ')})`
      : ' (untagged)';
    lines.push(`   - ${deletion.digest}${tags}`);
  }
  return lines;
}
