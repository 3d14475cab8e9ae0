/**
 * What the Cloud Storage stand-in holds: buckets, and in each the live generation of every
 * object, with the generation rule the real service keeps (a write with
 * `ifGenerationMatch` succeeds only when the live generation is that number; 0: no live
 * object). A bucket is made by seeding (deploy makes it in a project), never by a write.
 */
import {createHash} from 'node:crypto';
import {CRC32C} from '@google-cloud/storage';

export interface StoredObject {
  bucket: string;
  name: string;
  /** A decimal number, as the JSON API sends int64s; grows with every write in the store. */
  generation: string;
  metageneration: string;
  contentType: string;
  bytes: Buffer;
  timeCreated: Date;
  /** base64, as the JSON API's `md5Hash` and `crc32c` are. */
  md5Hash: string;
  crc32c: string;
}

/** Why a write or a read did not happen; the stand-in answers each as the real service does. */
export class ObjectStoreError extends Error {
  constructor(
    readonly kind: 'no-bucket' | 'no-object' | 'precondition',
    message: string,
  ) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}

export interface WriteConditions {
  ifGenerationMatch?: string;
}

export class ObjectStore {
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  // Generations are microseconds since the epoch in the real service; kept strictly growing.
  private lastGeneration = 0;

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  bucketNames(): string[] {
    return [...this.buckets.keys()].sort();
  }

  private bucket(name: string): Map<string, StoredObject> {
    const bucket = this.buckets.get(name);
    if (!bucket) {
      throw new ObjectStoreError(
        'no-bucket',
        'The specified bucket does not exist.',
      );
    }
    return bucket;
  }

  insert(
    bucketName: string,
    name: string,
    bytes: Buffer,
    contentType: string,
    conditions: WriteConditions = {},
  ): StoredObject {
    const bucket = this.bucket(bucketName);
    const live = bucket.get(name);
    if (
      conditions.ifGenerationMatch !== undefined &&
      conditions.ifGenerationMatch !== (live?.generation ?? '0')
    ) {
      throw new ObjectStoreError(
        'precondition',
        'At least one of the pre-conditions you specified did not hold.',
      );
    }
    this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
    const crc = new CRC32C();
    crc.update(bytes);
    const stored: StoredObject = {
      bucket: bucketName,
      name,
      generation: String(this.lastGeneration),
      metageneration: '1',
      contentType,
      bytes: Buffer.from(bytes),
      timeCreated: new Date(),
      md5Hash: createHash('md5').update(bytes).digest('base64'),
      crc32c: crc.toString(),
    };
    bucket.set(name, stored);
    return stored;
  }

  get(bucketName: string, name: string): StoredObject {
    const found = this.bucket(bucketName).get(name);
    if (!found) {
      throw new ObjectStoreError(
        'no-object',
        `No such object: ${bucketName}/${name}`,
      );
    }
    return found;
  }

  /** Live objects whose name starts with `prefix`, in name order (the JSON API's order). */
  list(bucketName: string, prefix = ''): StoredObject[] {
    return [...this.bucket(bucketName).values()]
      .filter(o => o.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The bytes of a live object, or undefined (no such bucket or object). */
  readObject(bucketName: string, name: string): Buffer | undefined {
    return this.buckets.get(bucketName)?.get(name)?.bytes;
  }

  /** Forgets every object; buckets stay. */
  clearObjects(): void {
    for (const bucket of this.buckets.values()) bucket.clear();
  }

  clear(): void {
    this.buckets.clear();
  }
}
