/**
 * Typed reads of the control plane's Firestore documents. Each record type has a converter
 * next to it, and reads go through `withConverter`, so `.data()` is typed where it is read
 * instead of cast. Writes through a converted reference pass through unchanged: what is
 * written is exactly what the caller wrote (FieldValue sentinels and merges included).
 */
import type {
  DocumentData,
  FirestoreDataConverter,
  PartialWithFieldValue,
  QueryDocumentSnapshot,
  WithFieldValue,
} from '@google-cloud/firestore';
import {PermanentError} from './errors';

/**
 * The converter of records of type T. `strings`: fields every writer sets to a string. A
 * document without one of them is not a T: reading it fails loudly, naming the document,
 * rather than handing on a record whose fields are not what its type says. Other fields
 * are taken as written.
 */
export function recordConverter<T extends object>(
  strings: ReadonlyArray<keyof T & string>,
): FirestoreDataConverter<T> {
  return {
    toFirestore(record: WithFieldValue<T> | PartialWithFieldValue<T>) {
      return record as DocumentData;
    },
    fromFirestore(snapshot: QueryDocumentSnapshot): T {
      const data = snapshot.data();
      for (const field of strings) {
        if (typeof data[field] !== 'string') {
          throw new PermanentError(
            `Firestore document ${snapshot.ref.path} is not a valid record: its ${field} is ${data[field] === undefined ? 'missing' : `a ${typeof data[field]}, not a string`}`,
          );
        }
      }
      return data as T;
    },
  };
}
