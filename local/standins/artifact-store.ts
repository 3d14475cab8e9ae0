/**
 * The Artifact Registry stand-in's state. Repositories are the stand-in's own records; their
 * images are the real Docker registry's, under `PROJECT/REPOSITORY/IMAGE`, read from its storage
 * whoever pushed them. Packages, versions and tags are views of those images, as in a
 * Docker-format repository: a package is an image path, a version one manifest of it, a tag
 * points at one version.
 *
 * One registry serves every location, so a project cannot hold two repositories with one id.
 * Every image method is async: pushes, tag changes and version deletes go over the registry's
 * HTTP API, and reads answer the same way so that callers need not know which is which.
 */
import {alreadyExists, failedPrecondition, notFound} from './grpc-errors';
import {type RegistryApi, sha256Digest} from './registry-api';
import type {RegistryStorage, StoredTagLink} from './registry-storage';
import {
  type LocationKey,
  type PackageKey,
  type RepositoryKey,
  packageName,
  repositoryName,
  tagName,
  validateImage,
  validateRepositoryId,
  validateTag,
  versionName,
} from './resource-names';
import {smallImage} from './small-image';

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

/** The image's name in the registry: `PROJECT/REPOSITORY[/IMAGE]`. */
export function registryPath(key: RepositoryKey | PackageKey): string {
  const repository = `${key.projectId}/${key.repositoryId}`;
  return 'image' in key ? `${repository}/${key.image}` : repository;
}

function packageKey(key: PackageKey): PackageKey {
  const {projectId, location, repositoryId, image} = key;
  return {projectId, location, repositoryId, image};
}

export class ArtifactStore {
  private readonly repositories = new Map<string, StoredRepository>();

  constructor(
    private readonly storage: RegistryStorage,
    private readonly registry: RegistryApi,
  ) {}

  /** Forgets every repository and deletes their images from the registry. */
  clear(): void {
    this.repositories.clear();
    this.storage.removeAllRepositories();
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
    const namesake = this.findInProject(key.projectId, key.repositoryId);
    if (namesake) {
      throw failedPrecondition(
        `repository "${key.repositoryId}" already exists in location ${namesake.location} of project ` +
          `${key.projectId}: the local stack's one Docker registry has one namespace per project ` +
          `(${registryPath(key)}/IMAGE), so a repository id can be used in one location only`,
      );
    }
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
    // A new repository starts empty, whatever a push that outlived a deleted namesake left.
    this.storage.removeRepository(registryPath(key));
    this.repositories.set(name, repository);
    return repository;
  }

  findRepository(key: RepositoryKey): StoredRepository | undefined {
    return this.repositories.get(repositoryName(key));
  }

  /** The DOCKER repository whose images the registry keeps under `projectId/repositoryId`. */
  findDockerRepository(
    projectId: string,
    repositoryId: string,
  ): StoredRepository | undefined {
    const found = this.findInProject(projectId, repositoryId);
    return found?.format === 'DOCKER' ? found : undefined;
  }

  getRepository(key: RepositoryKey): StoredRepository {
    const repository = this.findRepository(key);
    if (!repository) {
      throw notFound(`Requested entity was not found: ${repositoryName(key)}`);
    }
    return repository;
  }

  listRepositories(location: LocationKey): StoredRepository[] {
    return [...this.repositories.values()]
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
    const repository = this.getRepository(key);
    if (patch.description !== undefined)
      repository.description = patch.description;
    if (patch.labels !== undefined) repository.labels = {...patch.labels};
    repository.updateTime = now;
    return repository;
  }

  /** Deletes the repository and every image in it from the registry. */
  deleteRepository(key: RepositoryKey): void {
    this.getRepository(key);
    this.storage.removeRepository(registryPath(key));
    this.repositories.delete(repositoryName(key));
  }

  /** The sum of the sizes of the repository's images, as `Repository.size_bytes` reports. */
  async repositorySizeBytes(key: RepositoryKey): Promise<number> {
    const images = await this.listImages(key);
    return images.reduce((total, image) => total + image.sizeBytes, 0);
  }

  // --- images (versions) ----------------------------------------------------------------------

  /**
   * Pushes a small real image holding `content` into the registry with `tags`, as `docker push`
   * does (a tag on another version of the image moves to this one; the same content again adds
   * its tags), and returns the version as stored.
   */
  async pushImage(
    key: PackageKey,
    tags: readonly string[],
    content: string,
  ): Promise<StoredImage> {
    validateImage(key.image);
    tags.forEach(validateTag);
    this.getRepository(key);
    const image = smallImage(content);
    const name = registryPath(key);
    await Promise.all(
      [image.config, image.layer].map(async blob => {
        // Seeding pushes the same few images over and over: reuse what the registry holds.
        if (!this.storage.linkStoredBlob(name, sha256Digest(blob)))
          await this.registry.uploadBlob(name, blob);
      }),
    );
    if (this.storage.linkStoredManifest(name, image.digest, tags)) {
      return this.getVersion(key, image.digest);
    }
    for (const reference of tags.length > 0 ? tags : [image.digest]) {
      await this.registry.putManifest(
        name,
        reference,
        image.manifest,
        image.mediaType,
      );
    }
    return this.getVersion(key, image.digest);
  }

  /** Seeding: when the version and `tags` count as pushed (the mtimes of their links). */
  setPushTime(
    key: PackageKey,
    digest: string,
    tags: readonly string[],
    time: Date,
  ): void {
    this.storage.setPushTime(registryPath(key), digest, tags, time);
  }

  /** Every image (one per digest) of the repository, ordered by image path then upload time. */
  async listImages(key: RepositoryKey): Promise<StoredImage[]> {
    this.getRepository(key);
    const images: StoredImage[] = [];
    for (const image of this.storage.imageNames(registryPath(key))) {
      images.push(...this.versionsOf({...key, image}));
    }
    return images;
  }

  async listPackages(key: RepositoryKey): Promise<PackageSummary[]> {
    const packages = new Map<string, PackageSummary>();
    for (const image of await this.listImages(key)) {
      const known = packages.get(image.image);
      if (!known) {
        packages.set(image.image, {
          ...packageKey(image),
          createTime: image.uploadTime,
          updateTime: image.updateTime,
        });
      } else if (image.updateTime > known.updateTime) {
        known.updateTime = image.updateTime;
      }
    }
    return [...packages.values()];
  }

  async getPackage(key: PackageKey): Promise<PackageSummary> {
    const versions = await this.listVersions(key);
    return {
      ...packageKey(key),
      createTime: versions[0].uploadTime,
      updateTime: new Date(
        Math.max(...versions.map(v => v.updateTime.getTime())),
      ),
    };
  }

  /** The versions of one image, oldest first; NOT_FOUND when it has none. */
  async listVersions(key: PackageKey): Promise<StoredImage[]> {
    this.getRepository(key);
    const versions = this.versionsOf(key);
    if (versions.length === 0)
      throw notFound(`Requested entity was not found: ${packageName(key)}`);
    return versions;
  }

  async getVersion(key: PackageKey, digest: string): Promise<StoredImage> {
    this.getRepository(key);
    const name = registryPath(key);
    const revision = this.storage.revision(name, digest);
    if (!revision)
      throw notFound(
        `Requested entity was not found: ${versionName(key, digest)}`,
      );
    const tags = this.storage.tagsOf(name, digest);
    return this.version(key, revision.digest, revision.uploadTime, tags);
  }

  /** Deletes one version; a tagged version only with `force` (the registry deletes its tags). */
  async deleteVersion(
    key: PackageKey,
    digest: string,
    force: boolean,
  ): Promise<void> {
    const image = await this.getVersion(key, digest);
    if (image.tags.length > 0 && !force) {
      throw failedPrecondition(
        `version ${versionName(key, digest)} has tags (${image.tags.join(', ')}); ` +
          'delete the tags first or set force to delete the version with its tags',
      );
    }
    await this.registry.deleteManifest(registryPath(key), digest);
  }

  // --- tags -----------------------------------------------------------------------------------

  async listTags(key: PackageKey): Promise<TagSummary[]> {
    return (await this.listVersions(key))
      .flatMap(image =>
        image.tags.map(tag => ({
          ...packageKey(key),
          tag,
          digest: image.digest,
        })),
      )
      .sort((a, b) => a.tag.localeCompare(b.tag));
  }

  async findTag(key: PackageKey, tag: string): Promise<TagSummary | undefined> {
    this.getRepository(key);
    const link = this.storage.tag(registryPath(key), tag);
    return link ? {...packageKey(key), tag, digest: link.digest} : undefined;
  }

  async getTag(key: PackageKey, tag: string): Promise<TagSummary> {
    const found = await this.findTag(key, tag);
    if (!found)
      throw notFound(`Requested entity was not found: ${tagName(key, tag)}`);
    return found;
  }

  async createTag(
    key: PackageKey,
    tag: string,
    digest: string,
  ): Promise<TagSummary> {
    validateTag(tag);
    if (await this.findTag(key, tag))
      throw alreadyExists(`the tag already exists: ${tagName(key, tag)}`);
    return this.setTag(key, tag, digest);
  }

  /** Points an existing tag at `digest`. */
  async updateTag(
    key: PackageKey,
    tag: string,
    digest: string,
  ): Promise<TagSummary> {
    await this.getTag(key, tag);
    return this.setTag(key, tag, digest);
  }

  /** Deletes the tag; its version stays, pullable by digest. */
  async deleteTag(key: PackageKey, tag: string): Promise<void> {
    await this.getTag(key, tag);
    this.storage.removeTag(registryPath(key), tag);
  }

  /** Tags the version by PUTting its manifest again under `tag`, as `docker push` would. */
  private async setTag(
    key: PackageKey,
    tag: string,
    digest: string,
  ): Promise<TagSummary> {
    await this.getVersion(key, digest);
    const manifest = this.storage.manifest(digest);
    await this.registry.putManifest(
      registryPath(key),
      tag,
      manifest.bytes,
      manifest.mediaType,
    );
    return {...packageKey(key), tag, digest};
  }

  /** The versions of one image, oldest first. */
  private versionsOf(key: PackageKey): StoredImage[] {
    const name = registryPath(key);
    const tags = this.storage.tags(name);
    const versions = this.storage.revisions(name).map(revision =>
      this.version(
        key,
        revision.digest,
        revision.uploadTime,
        tags.filter(t => t.digest === revision.digest),
      ),
    );
    return versions.sort(
      (a, b) =>
        a.uploadTime.getTime() - b.uploadTime.getTime() ||
        a.digest.localeCompare(b.digest),
    );
  }

  private version(
    key: PackageKey,
    digest: string,
    uploadTime: Date,
    tags: StoredTagLink[],
  ): StoredImage {
    const manifest = this.storage.manifest(digest);
    const ordered = [...tags].sort(
      (a, b) =>
        a.setTime.getTime() - b.setTime.getTime() || a.tag.localeCompare(b.tag),
    );
    const lastTagged = ordered.at(-1)?.setTime;
    return {
      ...packageKey(key),
      digest,
      tags: ordered.map(t => t.tag),
      sizeBytes: manifest.sizeBytes,
      uploadTime,
      buildTime: manifest.created ?? uploadTime,
      updateTime:
        lastTagged && lastTagged > uploadTime ? lastTagged : uploadTime,
      mediaType: manifest.mediaType,
    };
  }

  private findInProject(
    projectId: string,
    repositoryId: string,
  ): StoredRepository | undefined {
    for (const repository of this.repositories.values()) {
      if (
        repository.projectId === projectId &&
        repository.repositoryId === repositoryId
      )
        return repository;
    }
    return undefined;
  }
}
