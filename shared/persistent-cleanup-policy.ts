/**
 * Who deletes old image versions where. One deleter per repository: the control plane
 * (build-finished's cleanup, shared/cleanup-planner.ts) in the ephemeral repository, and
 * the persistent repository's own Artifact Registry cleanup policy there, which deploy
 * sets from `persistent-cleanup-policy.json` beside this file. No identity deploy creates
 * may delete versions or tags in the persistent repository (deploy/iam.ts), so the
 * control plane must not try.
 */
import rules from './persistent-cleanup-policy.json';
import type {Config} from './config';

/** The policy file, as `gcloud artifacts repositories set-cleanup-policies --policy` reads it (from the repository root). */
export const PERSISTENT_CLEANUP_POLICY_FILE =
  'shared/persistent-cleanup-policy.json';

export interface CleanupPolicyRule {
  name: string;
  action: {type: 'KEEP' | 'DELETE'};
  condition?: {
    tagState: 'TAGGED' | 'UNTAGGED' | 'ANY';
    tagPrefixes?: string[];
    olderThan?: string;
  };
  mostRecentVersions?: {keepCount: number};
}

export const PERSISTENT_CLEANUP_RULES: readonly CleanupPolicyRule[] =
  rules as CleanupPolicyRule[];

export interface PersistentCleanupTerms {
  /** Versions holding a tag with one of these prefixes are kept. */
  keepTagPrefixes: string[];
  /** The most recent versions of each image kept, whatever their age. */
  keepMostRecent: number;
  /** Any other version older than this many days is deleted. */
  deleteOlderThanDays: number;
}

function ruleOf(
  action: CleanupPolicyRule['action']['type'],
  has: (r: CleanupPolicyRule) => boolean,
): CleanupPolicyRule {
  const found = PERSISTENT_CLEANUP_RULES.filter(
    r => r.action.type === action && has(r),
  );
  if (found.length !== 1) {
    throw new Error(
      `${PERSISTENT_CLEANUP_POLICY_FILE} must hold exactly one ${action} rule of its kind (found ${found.length})`,
    );
  }
  return found[0];
}

/** The policy's numbers, read from the file (so what arr says is what deploy sets). */
export function persistentCleanupTerms(): PersistentCleanupTerms {
  const keepTags = ruleOf('KEEP', r => r.condition?.tagPrefixes !== undefined);
  const keepRecent = ruleOf('KEEP', r => r.mostRecentVersions !== undefined);
  const deleteOld = ruleOf('DELETE', r => r.condition?.olderThan !== undefined);
  const days = /^(\d+)d$/.exec(deleteOld.condition?.olderThan ?? '');
  if (days === null || deleteOld.condition?.tagState !== 'ANY') {
    throw new Error(
      `${PERSISTENT_CLEANUP_POLICY_FILE}: the DELETE rule must be {"tagState": "ANY", "olderThan": "<days>d"}`,
    );
  }
  return {
    keepTagPrefixes: [...(keepTags.condition?.tagPrefixes ?? [])],
    keepMostRecent: keepRecent.mostRecentVersions?.keepCount ?? 0,
    deleteOlderThanDays: Number(days[1]),
  };
}

/** The policy in one line, for people. */
export function describePersistentCleanup(): string {
  const t = persistentCleanupTerms();
  return (
    `keeps every version tagged ${t.keepTagPrefixes.map(p => `${p}*`).join(', ')} ` +
    `and the ${t.keepMostRecent} most recent versions of each image, ` +
    `and deletes any other version older than ${t.deleteOlderThanDays} days`
  );
}

export type OldVersionDeleter = 'control plane' | 'cleanup policy';

/** Exact comparison: the ephemeral id may be a prefix of the persistent one. */
export function oldVersionDeleter(
  config: Pick<Config, 'persistentRepository'>,
  repository: string,
): OldVersionDeleter {
  return repository === config.persistentRepository
    ? 'cleanup policy'
    : 'control plane';
}
