/**
 * `images/{image}`: the image manifest, what is built and present in the registry, and
 * the latest Dockerfile hash and source asked for (docs/ARCHITECTURE.md, "Firestore
 * model"). The cache trusts it only together with the registry: a teardown or
 * a manual delete removes images behind its back.
 */
import {
  type CollectionReference,
  FieldValue,
  type Firestore,
} from '@google-cloud/firestore';
import type {Tier} from './catalog';
import {recordConverter} from './record-converter';

export const IMAGES = 'images';

export interface LatestRequest {
  dockerfileHash: string;
  /** Context-keyed images only (shared/context-digest.ts). */
  contextDigest?: string;
  source: string;
  requestedBy?: string;
  at: string;
}

export interface ManifestEntry {
  image: string;
  tier: Tier;
  repository: string;
  /** True when the image tagged `:<key>` is in the registry; absent means not yet. */
  present?: boolean;
  /** Cache key of the image that is (or was) present: the tag `:<key>`. */
  key?: string;
  digest?: string;
  dockerfileHash?: string;
  contextDigest?: string;
  parentKey?: string;
  /** The parent's digest this image was built FROM. */
  parentDigest?: string;
  source?: string;
  builtAt?: string;
  buildId?: string;
  /** How long the build that produced it ran (Cloud Build's start → finish), and on what. */
  buildSeconds?: number;
  machineType?: string;
  /** How it got here: built by us, or adopted from a tag pushed by hand. */
  origin?: 'built' | 'adopted';
  /** What was asked for last; setup's reconcile and a parent's rebuild republish it. */
  latestRequest?: LatestRequest;
  updatedAt: string;
}

export const manifestEntryConverter = recordConverter<ManifestEntry>([
  'image',
  'repository',
]);

/** `images`, read and written as ManifestEntries. */
export function manifestEntries(
  firestore: Firestore,
): CollectionReference<ManifestEntry> {
  return firestore.collection(IMAGES).withConverter(manifestEntryConverter);
}

export interface PresentImage {
  key: string;
  digest: string;
  dockerfileHash: string;
  contextDigest?: string;
  source: string;
  builtAt: string;
  origin: 'built' | 'adopted';
  buildId?: string;
  buildSeconds?: number;
  machineType?: string;
  parentKey?: string;
  parentDigest?: string;
}

const doc = (firestore: Firestore, image: string) =>
  manifestEntries(firestore).doc(image);

export async function readManifestEntry(
  firestore: Firestore,
  image: string,
): Promise<ManifestEntry | undefined> {
  const snapshot = await doc(firestore, image).get();
  return snapshot.data();
}

export async function readManifest(
  firestore: Firestore,
): Promise<ManifestEntry[]> {
  const snapshot = await manifestEntries(firestore).get();
  return snapshot.docs.map(d => d.data());
}

export async function recordLatestRequest(
  firestore: Firestore,
  identity: {image: string; tier: Tier; repository: string},
  request: LatestRequest,
): Promise<void> {
  // A merge, not a transaction: duplicates arrive together and must not contend here.
  // An entry created this way has no `present` yet, which readers take as not present.
  // A merge merges maps too: a context digest no longer asked for is deleted, not kept.
  await doc(firestore, identity.image).set(
    {
      ...identity,
      latestRequest: {
        ...request,
        contextDigest: request.contextDigest ?? FieldValue.delete(),
      },
      updatedAt: new Date().toISOString(),
    },
    {merge: true},
  );
}

/**
 * Record an image as present. An older build finishing late never replaces a newer
 * image: the entry keeps whichever was built last.
 */
export async function recordPresentImage(
  firestore: Firestore,
  identity: {image: string; tier: Tier; repository: string},
  present: PresentImage,
): Promise<'recorded' | 'unchanged' | 'newer-present'> {
  const ref = doc(firestore, identity.image);
  return firestore.runTransaction(async tx => {
    const current = (await tx.get(ref)).data();
    if (
      current?.present &&
      current.key === present.key &&
      current.digest === present.digest
    ) {
      return 'unchanged';
    }
    if (
      current?.present &&
      current.key !== present.key &&
      current.builtAt !== undefined &&
      current.builtAt > present.builtAt
    ) {
      return 'newer-present';
    }
    tx.set(
      ref,
      {
        ...identity,
        ...present,
        contextDigest: present.contextDigest ?? FieldValue.delete(),
        // An adopted image replaces a built one: no build time of its own.
        buildId: present.buildId ?? FieldValue.delete(),
        buildSeconds: present.buildSeconds ?? FieldValue.delete(),
        machineType: present.machineType ?? FieldValue.delete(),
        present: true,
        updatedAt: new Date().toISOString(),
      },
      {merge: true},
    );
    return 'recorded';
  });
}

export async function markImageAbsent(
  firestore: Firestore,
  image: string,
): Promise<void> {
  await doc(firestore, image).set(
    {present: false, updatedAt: new Date().toISOString()},
    {merge: true},
  );
}

/**
 * After a repository is deleted, none of its images is present any more; the next setup
 * rebuilds them and the cache never claims an image that is gone.
 */
export async function markRepositoryImagesAbsent(
  firestore: Firestore,
  repository: string,
): Promise<string[]> {
  const snapshot = await manifestEntries(firestore)
    .where('repository', '==', repository)
    .get();
  const now = new Date().toISOString();
  const batch = firestore.batch();
  const marked: string[] = [];
  for (const entry of snapshot.docs) {
    if (entry.data().present) marked.push(entry.id);
    batch.update(entry.ref, {present: false, updatedAt: now});
  }
  if (!snapshot.empty) await batch.commit();
  return marked;
}
