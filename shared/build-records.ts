/**
 * `builds/{image}@{key}`: the idempotency record of one (image, cache key). Exactly one
 * claimant creates the Cloud Build for it; status follows Cloud Build's and never goes back.
 */
import type {Firestore} from '@google-cloud/firestore';
import type {BuildStatus} from './events';
import type {Tier} from './catalog';

export const BUILDS = 'builds';

export interface BuildRecord {
  image: string;
  key: string;
  tier: Tier;
  repository: string;
  status: BuildStatus | 'CLAIMED';
  buildId?: string;
  attempts: number;
  dockerfileHash: string;
  source: string;
  parentDigest?: string;
  parentKey?: string;
  claimedAt: string;
  /** When the claim stops blocking others without a check against Cloud Build. */
  deadline: string;
  startTime?: string;
  finishTime?: string;
  digest?: string;
  logUrl?: string;
  failureDetail?: string;
  runId: string;
  history: Array<{
    at: string;
    status: string;
    buildId?: string;
    detail?: string;
  }>;
}

export function buildRecordId(image: string, key: string): string {
  return `${image}@${key}`;
}

export const ACTIVE_BUILD_STATUSES = [
  'CLAIMED',
  'QUEUED',
  'WORKING',
  'PENDING',
] as const;

/** Builds that may still push into a repository. */
export async function activeBuildsInto(
  firestore: Firestore,
  repository: string,
): Promise<BuildRecord[]> {
  const snapshot = await firestore
    .collection(BUILDS)
    .where('repository', '==', repository)
    .where('status', 'in', [...ACTIVE_BUILD_STATUSES])
    .get();
  return snapshot.docs.map(doc => doc.data() as BuildRecord);
}
