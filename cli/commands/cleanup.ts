/**
 * `arr cleanup <image>`: the cleanup plan for an image, without applying it. It is
 * computed exactly as build-finished computes the plan it applies after the image's next
 * successful build, so what an operator reviews here is what would happen.
 */
import {planImageCleanup} from '../../shared/build-finished';
import type {Catalog} from '../../shared/catalog';
import {repositoryForTier} from '../../shared/config';
import {CleanupPlan, describeCleanupPlan} from '../../shared/cleanup-planner';
import {readManifestEntry} from '../../shared/manifest';
import {
  OldVersionDeleter,
  describePersistentCleanup,
  oldVersionDeleter,
} from '../../shared/persistent-cleanup-policy';
import type {Connection} from '../connection';
import {ExitCode, UsageError} from '../errors';
import {Output, stdio, writeJson} from '../publish';
import {SCHEMA_VERSION} from '../views';

export interface CleanupFlags {
  json: boolean;
}

export interface CleanupPlanView {
  schemaVersion: typeof SCHEMA_VERSION;
  image: string;
  repository: string;
  /** Who deletes old versions there: this control plane, or the repository's cleanup policy (then nothing is planned here). */
  deletedBy: OldVersionDeleter;
  /** Null while the image has never been built or adopted: nothing is planned. */
  currentKey: string | null;
  deletions: Array<{
    digest: string;
    tags: string[];
    sizeBytes: number;
    uploadTime: string;
  }>;
  deferred: Array<{
    digest: string;
    tags: string[];
    sizeBytes: number;
    uploadTime: string;
  }>;
  kept: Array<{digest: string; tags: string[]; reasons: string[]}>;
}

export function cleanupPlanView(
  image: string,
  repository: string,
  deletedBy: OldVersionDeleter,
  currentKey: string | null,
  plan: CleanupPlan,
): CleanupPlanView {
  const deletion = (d: CleanupPlan['deletions'][number]) => ({
    digest: d.digest,
    tags: d.tags,
    sizeBytes: d.sizeBytes,
    uploadTime: d.uploadTime.toISOString(),
  });
  return {
    schemaVersion: SCHEMA_VERSION,
    image,
    repository,
    deletedBy,
    currentKey,
    deletions: plan.deletions.map(deletion),
    deferred: plan.deferred.map(deletion),
    kept: plan.kept.map(k => ({
      digest: k.digest,
      tags: k.tags,
      reasons: k.reasons,
    })),
  };
}

export async function cleanup(
  connection: Connection,
  catalog: Catalog,
  image: string,
  flags: CleanupFlags,
  io: Output = stdio,
): Promise<number> {
  const entry = catalog.get(image);
  if (!entry) {
    throw new UsageError(
      `Unknown image "${image}". The catalog has: ${catalog.names().join(', ')}.`,
    );
  }
  const {config, registry} = connection;
  const repository = repositoryForTier(config, entry.tier);
  const firestore = await connection.firestore();
  const manifest = await readManifestEntry(firestore, image);
  const empty: CleanupPlan = {deletions: [], deferred: [], kept: []};
  const deletedBy = oldVersionDeleter(config, repository);
  const plan =
    manifest?.key && deletedBy === 'control plane'
      ? await planImageCleanup(
          {registry, firestore, config},
          image,
          manifest.key,
          repository,
        )
      : empty;
  const view = cleanupPlanView(
    image,
    repository,
    deletedBy,
    manifest?.key ?? null,
    plan,
  );
  if (flags.json) {
    writeJson(io, view);
    return ExitCode.Ok;
  }
  if (deletedBy === 'cleanup policy') {
    io.out.write(
      `${image} lives in ${repository}, where this control plane deletes nothing. ` +
        `Its old versions are removed by the repository's Artifact Registry cleanup policy, which deploy sets: it ${describePersistentCleanup()} ` +
        '(while deploy leaves the policy in its dry run, the default, it deletes nothing and logs what it would).\n',
    );
    return ExitCode.Ok;
  }
  if (!manifest?.key) {
    io.out.write(
      `${image} has no current key yet (never built or adopted); nothing to clean up.\n`,
    );
    return ExitCode.Ok;
  }
  const lines = [
    `Dry run: what the next successful build of ${image}:${manifest.key} cleans up in ${repository}`,
    ...describeCleanupPlan(image, plan),
    ...plan.kept.map(
      k =>
        `   = ${k.digest}${k.tags.length ? ` (tags ${k.tags.join(', ')})` : ''}: kept, ${k.reasons.join(', ')}`,
    ),
  ];
  io.out.write(lines.join('\n') + '\n');
  return ExitCode.Ok;
}
