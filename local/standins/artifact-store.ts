/**
 * The Artifact Registry stand-in's state: repositories and the Docker images pushed into them.
 * Packages, versions and tags are views of the images, as in a Docker-format repository: a package
 * is an image path, a version is one manifest digest of it, a tag points at one version.
 */
import {createHash} from 'node:crypto';
import {alreadyExists, failedPrecondition, notFound} from './grpc-errors';
import {
  type LocationKey,
  type PackageKey,
  type RepositoryKey,
  packageName,
  repositoryName,
  tagName,
  validateDigest,
  validateImage,
  validateRepositoryId,
  validateTag,
  versionName,
} from './resource-names';

export const DOCKER_MANIFEST_MEDIA_TYPE =
  'application/vnd.docker.distribution.manifest.v2+json';

export interface StoredRepository extends RepositoryKey {
  /** `Repository.Format` name, e.g. `DOCKER`. */
  format: string;
  description: string;
  labels: Record<string, string>;
  createTime: Date;
  updateTime: Date;
}

export interface StoredImage extends PackageKey {
  digest: string;
  /** Tags pointing at this digest, in the order they were set. */
  tags: string[];
  sizeBytes: number;
  uploadTime: Date;
  buildTime: Date;
  updateTime: Date;
  mediaType: string;
}

export interface PackageSummary extends PackageKey {
  createTime: Date;
  updateTime: Date;
}

export interface TagSummary extends PackageKey {
  tag: string;
  digest: string;
}

export interface PushedImage {
  digest: string;
  tags: readonly string[];
  sizeBytes: number;
  uploadTime?: Date;
  buildTime?: Date;
  mediaType?: string;
}

/** `sha256:` + the hex SHA-256 of `text`: a well-formed digest derived from something deterministic. */
export function digestOf(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

interface RepositoryEntry {
  repository: StoredRepository;
  /** Keyed by `image@digest`. */
  images: Map<string, StoredImage>;
}

export class ArtifactStore {
  private readonly repositories = new Map<string, RepositoryEntry>();

  clear(): void {
    this.repositories.clear();
  }

  // --- repositories ---------------------------------------------------------------------------

  createRepository(
    key: RepositoryKey,
    fields: {
      format: string;
      description?: string;
      labels?: Record<string, string>;
    },
    now = new Date(),
  ): StoredRepository {
    validateRepositoryId(key.repositoryId);
    const name = repositoryName(key);
    if (this.repositories.has(name))
      throw alreadyExists(`the repository already exists: ${name}`);
    const repository: StoredRepository = {
      projectId: key.projectId,
      location: key.location,
      repositoryId: key.repositoryId,
      format: fields.format,
      description: fields.description ?? '',
      labels: {...fields.labels},
      createTime: now,
      updateTime: now,
    };
    this.repositories.set(name, {repository, images: new Map()});
    return repository;
  }

  findRepository(key: RepositoryKey): StoredRepository | undefined {
    return this.repositories.get(repositoryName(key))?.repository;
  }

  getRepository(key: RepositoryKey): StoredRepository {
    return this.entry(key).repository;
  }

  listRepositories(location: LocationKey): StoredRepository[] {
    return [...this.repositories.values()]
      .map(entry => entry.repository)
      .filter(
        r =>
          r.projectId === location.projectId &&
          r.location === location.location,
      )
      .sort((a, b) => a.repositoryId.localeCompare(b.repositoryId));
  }

  updateRepository(
    key: RepositoryKey,
    patch: {description?: string; labels?: Record<string, string>},
    now = new Date(),
  ): StoredRepository {
    const repository = this.entry(key).repository;
    if (patch.description !== undefined)
      repository.description = patch.description;
    if (patch.labels !== undefined) repository.labels = {...patch.labels};
    repository.updateTime = now;
    return repository;
  }

  /** Deletes the repository and every image in it. */
  deleteRepository(key: RepositoryKey): void {
    this.entry(key);
    this.repositories.delete(repositoryName(key));
  }

  /** The sum of the sizes of the repository's images, as `Repository.size_bytes` reports. */
  repositorySizeBytes(key: RepositoryKey): number {
    let total = 0;
    for (const image of this.entry(key).images.values())
      total += image.sizeBytes;
    return total;
  }

  // --- images (versions) ----------------------------------------------------------------------

  /**
   * Records a push of `image@digest` with `tags`, as `docker push` does: a tag that pointed at
   * another digest of the image moves to this one. Pushing the same digest again adds its tags.
   */
  pushImage(
    key: PackageKey,
    pushed: PushedImage,
    now = new Date(),
  ): StoredImage {
    validateImage(key.image);
    validateDigest(pushed.digest);
    pushed.tags.forEach(validateTag);
    const entry = this.entry(key);
    for (const tag of pushed.tags)
      this.untag(entry, key.image, tag, pushed.digest, now);
    const id = `${key.image}@${pushed.digest}`;
    const existing = entry.images.get(id);
    if (existing) {
      for (const tag of pushed.tags)
        if (!existing.tags.includes(tag)) existing.tags.push(tag);
      existing.updateTime = now;
      return existing;
    }
    const uploadTime = pushed.uploadTime ?? now;
    const image: StoredImage = {
      projectId: key.projectId,
      location: key.location,
      repositoryId: key.repositoryId,
      image: key.image,
      digest: pushed.digest,
      tags: [...new Set(pushed.tags)],
      sizeBytes: pushed.sizeBytes,
      uploadTime,
      buildTime: pushed.buildTime ?? uploadTime,
      updateTime: uploadTime,
      mediaType: pushed.mediaType ?? DOCKER_MANIFEST_MEDIA_TYPE,
    };
    entry.images.set(id, image);
    return image;
  }

  /** Every image (one per digest) of the repository, ordered by image path then upload time. */
  listImages(key: RepositoryKey): StoredImage[] {
    return [...this.entry(key).images.values()].sort(
      (a, b) =>
        a.image.localeCompare(b.image) ||
        a.uploadTime.getTime() - b.uploadTime.getTime(),
    );
  }

  listPackages(key: RepositoryKey): PackageSummary[] {
    const packages = new Map<string, PackageSummary>();
    for (const image of this.listImages(key)) {
      const known = packages.get(image.image);
      if (!known) {
        packages.set(image.image, {
          ...key,
          image: image.image,
          createTime: image.uploadTime,
          updateTime: image.updateTime,
        });
      } else if (image.updateTime > known.updateTime) {
        known.updateTime = image.updateTime;
      }
    }
    return [...packages.values()];
  }

  getPackage(key: PackageKey): PackageSummary {
    const found = this.listPackages(key).find(p => p.image === key.image);
    if (!found)
      throw notFound(`Requested entity was not found: ${packageName(key)}`);
    return found;
  }

  listVersions(key: PackageKey): StoredImage[] {
    this.getPackage(key);
    return this.listImages(key).filter(image => image.image === key.image);
  }

  getVersion(key: PackageKey, digest: string): StoredImage {
    const image = this.entry(key).images.get(`${key.image}@${digest}`);
    if (!image)
      throw notFound(
        `Requested entity was not found: ${versionName(key, digest)}`,
      );
    return image;
  }

  /** Deletes one version; a tagged version only with `force` (its tags go with it). */
  deleteVersion(key: PackageKey, digest: string, force: boolean): void {
    const image = this.getVersion(key, digest);
    if (image.tags.length > 0 && !force) {
      throw failedPrecondition(
        `version ${versionName(key, digest)} has tags (${image.tags.join(', ')}); ` +
          'delete the tags first or set force to delete the version with its tags',
      );
    }
    this.entry(key).images.delete(`${key.image}@${digest}`);
  }

  // --- tags -----------------------------------------------------------------------------------

  listTags(key: PackageKey): TagSummary[] {
    return this.listVersions(key)
      .flatMap(image =>
        image.tags.map(tag => ({...key, tag, digest: image.digest})),
      )
      .sort((a, b) => a.tag.localeCompare(b.tag));
  }

  findTag(key: PackageKey, tag: string): TagSummary | undefined {
    for (const image of this.entry(key).images.values()) {
      if (image.image === key.image && image.tags.includes(tag)) {
        return {...key, tag, digest: image.digest};
      }
    }
    return undefined;
  }

  getTag(key: PackageKey, tag: string): TagSummary {
    const found = this.findTag(key, tag);
    if (!found)
      throw notFound(`Requested entity was not found: ${tagName(key, tag)}`);
    return found;
  }

  createTag(
    key: PackageKey,
    tag: string,
    digest: string,
    now = new Date(),
  ): TagSummary {
    validateTag(tag);
    if (this.findTag(key, tag))
      throw alreadyExists(`the tag already exists: ${tagName(key, tag)}`);
    return this.setTag(key, tag, digest, now);
  }

  /** Points an existing tag at `digest`. */
  updateTag(
    key: PackageKey,
    tag: string,
    digest: string,
    now = new Date(),
  ): TagSummary {
    this.getTag(key, tag);
    return this.setTag(key, tag, digest, now);
  }

  deleteTag(key: PackageKey, tag: string, now = new Date()): void {
    this.getTag(key, tag);
    this.untag(this.entry(key), key.image, tag, undefined, now);
  }

  private setTag(
    key: PackageKey,
    tag: string,
    digest: string,
    now: Date,
  ): TagSummary {
    const image = this.getVersion(key, digest);
    this.untag(this.entry(key), key.image, tag, digest, now);
    if (!image.tags.includes(tag)) image.tags.push(tag);
    image.updateTime = now;
    return {...key, tag, digest};
  }

  /** Removes `tag` from every version of `image` except `keepDigest`. */
  private untag(
    entry: RepositoryEntry,
    image: string,
    tag: string,
    keepDigest: string | undefined,
    now: Date,
  ): void {
    for (const stored of entry.images.values()) {
      if (stored.image !== image || stored.digest === keepDigest) continue;
      const index = stored.tags.indexOf(tag);
      if (index >= 0) {
        stored.tags.splice(index, 1);
        stored.updateTime = now;
      }
    }
  }

  private entry(key: RepositoryKey): RepositoryEntry {
    const entry = this.repositories.get(repositoryName(key));
    if (!entry) {
      throw notFound(`Requested entity was not found: ${repositoryName(key)}`);
    }
    return entry;
  }
}
