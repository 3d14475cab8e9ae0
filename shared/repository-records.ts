/** `repositories/{id}`: what setup and teardown last saw of each repository. */
import type {Firestore} from '@google-cloud/firestore';
import type {Tier} from './catalog';

export const REPOSITORIES = 'repositories';

export const RepositoryState = [
  'present',
  'misconfigured',
  /** Holds the only copy of a persistent-tier image: teardown refuses until it is copied. */
  'needs-migration',
  'missing',
  'deleted',
] as const;
export type RepositoryState = (typeof RepositoryState)[number];

export interface RepositoryRecord {
  id: string;
  tier: Tier;
  state: RepositoryState;
  format?: string;
  location?: string;
  labels?: Record<string, string>;
  verifiedAt: string;
  warnings: string[];
  /** The run that last wrote this record. */
  runId: string;
}

export async function recordRepository(
  firestore: Firestore,
  record: RepositoryRecord,
): Promise<void> {
  await firestore.collection(REPOSITORIES).doc(record.id).set(record);
}

export async function readRepositoryRecord(
  firestore: Firestore,
  id: string,
): Promise<RepositoryRecord | undefined> {
  const snapshot = await firestore.collection(REPOSITORIES).doc(id).get();
  return snapshot.exists ? (snapshot.data() as RepositoryRecord) : undefined;
}
