/** `repositories/{id}`: what setup and teardown last saw of each repository. */
import type {CollectionReference, Firestore} from '@google-cloud/firestore';
import type {Tier} from './catalog';
import {recordConverter} from './record-converter';

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

export const repositoryRecordConverter = recordConverter<RepositoryRecord>([
  'id',
  'state',
]);

/** `repositories`, read and written as RepositoryRecords. */
export function repositoryRecords(
  firestore: Firestore,
): CollectionReference<RepositoryRecord> {
  return firestore
    .collection(REPOSITORIES)
    .withConverter(repositoryRecordConverter);
}

export async function recordRepository(
  firestore: Firestore,
  record: RepositoryRecord,
): Promise<void> {
  await repositoryRecords(firestore).doc(record.id).set(record);
}

export async function readRepositoryRecord(
  firestore: Firestore,
  id: string,
): Promise<RepositoryRecord | undefined> {
  const snapshot = await repositoryRecords(firestore).doc(id).get();
  return snapshot.data();
}
