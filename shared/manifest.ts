/**
 * `images/{image}`: the image manifest, what is built and present in the registry.
 * It replaces the seed's `.image-manifest` file. The cache trusts it only together with
 * the registry (a teardown or a manual delete removes images behind its back).
 */
import type {Firestore} from '@google-cloud/firestore';
import type {Tier} from './catalog';

export const IMAGES = 'images';

export interface ManifestEntry {
  image: string;
  tier: Tier;
  repository: string;
  /** Cache key of the image that is (or was) present: the tag `:<key>`. */
  key: string;
  dockerfileHash: string;
  /** The parent's digest this image was built FROM, for dependents. */
  parentDigest?: string;
  parentKey?: string;
  digest: string;
  source: string;
  builtAt: string;
  buildId?: string;
  /** How it got here: built by us, or adopted from a tag pushed by hand. */
  origin: 'built' | 'adopted';
  present: boolean;
  updatedAt: string;
}

export async function readManifestEntry(
  firestore: Firestore,
  image: string,
): Promise<ManifestEntry | undefined> {
  const snapshot = await firestore.collection(IMAGES).doc(image).get();
  return snapshot.exists ? (snapshot.data() as ManifestEntry) : undefined;
}

export async function readManifest(
  firestore: Firestore,
): Promise<ManifestEntry[]> {
  const snapshot = await firestore.collection(IMAGES).get();
  return snapshot.docs.map(doc => doc.data() as ManifestEntry);
}

/**
 * After a repository is deleted, none of its images is present any more; the next setup
 * rebuilds them and the cache never claims an image that is gone.
 */
export async function markRepositoryImagesAbsent(
  firestore: Firestore,
  repository: string,
): Promise<string[]> {
  const snapshot = await firestore
    .collection(IMAGES)
    .where('repository', '==', repository)
    .get();
  const now = new Date().toISOString();
  const batch = firestore.batch();
  const marked: string[] = [];
  for (const doc of snapshot.docs) {
    if ((doc.data() as ManifestEntry).present) marked.push(doc.id);
    batch.update(doc.ref, {present: false, updatedAt: now});
  }
  if (!snapshot.empty) await batch.commit();
  return marked;
}
