/** Applying a cleanup plan: tags before digests, with bounded concurrency. */
import type {ArtifactRegistry} from './artifact-registry';
import type {CleanupPlan} from './cleanup-planner';
import {describeError} from './errors';

export const CLEANUP_CONCURRENCY = 16;

export interface CleanupResult {
  deleted: string[];
  failed: Array<{digest: string; reason: string}>;
}

export async function applyCleanupPlan(
  registry: ArtifactRegistry,
  repository: string,
  image: string,
  plan: CleanupPlan,
  concurrency = CLEANUP_CONCURRENCY,
): Promise<CleanupResult> {
  const result: CleanupResult = {deleted: [], failed: []};
  const queue = [...plan.deletions];
  const worker = async () => {
    for (let deletion = queue.shift(); deletion; deletion = queue.shift()) {
      try {
        for (const tag of deletion.tags)
          await registry.deleteTag(repository, image, tag);
        await registry.deleteVersion(repository, image, deletion.digest);
        result.deleted.push(deletion.digest);
      } catch (error) {
        // One stubborn version must not stop the rest; the next run tries it again.
        result.failed.push({
          digest: deletion.digest,
          reason: describeError(error),
        });
      }
    }
  };
  await Promise.all(
    Array.from({length: Math.min(concurrency, queue.length)}, worker),
  );
  return result;
}
