/**
 * Artifact Registry, in the domain's words. Every call here is safe to repeat, and retries
 * transient faults in process (`callGoogleApi`; google-gax retries none of these methods):
 * reads change nothing, and a create or delete repeated after its answer was lost answers
 * ALREADY_EXISTS or NOT_FOUND, which are answers here, not errors.
 *
 * Deliberately absent: deleting a repository. That lives in `teardown-guard.ts` alone.
 */
import type {
  ArtifactRegistryClient,
  protos,
} from '@google-cloud/artifact-registry';
import type {Config} from './config';
import {classifyError} from './errors';
import {parseRepositoryName, repositoryResourceName} from './repository-id';
import {
  Attempt,
  callGoogleApi,
  DEFAULT_RETRY_POLICY,
  GoogleCall,
  RetryPolicy,
} from './retry';
import type {Tier} from './catalog';

export const LIFECYCLE_LABEL = 'arr-lifecycle';
export const MANAGED_BY_LABEL = 'managed-by';
export const MANAGED_BY = 'arr-image-control-plane';

// The proto enum, for clients configured to return numbers instead of names.
const FORMAT_NAMES: Record<number, string> = {
  0: 'FORMAT_UNSPECIFIED',
  1: 'DOCKER',
  2: 'MAVEN',
  3: 'NPM',
  5: 'APT',
  6: 'YUM',
  8: 'PYTHON',
  9: 'KFP',
  10: 'GO',
  11: 'GENERIC',
};

export interface RepositoryInfo {
  id: string;
  name: string;
  format: string;
  location: string;
  labels: Record<string, string>;
  description: string;
  sizeBytes: number;
}

export interface TagInfo {
  tag: string;
  /** `sha256:…`, the version the tag points at. */
  digest: string;
}

export interface ImageVersion {
  /** Full version resource name. */
  name: string;
  digest: string;
  tags: string[];
  uploadTime: Date;
  sizeBytes: number;
}

export interface DockerImageInfo {
  image: string;
  digest: string;
  tags: string[];
  sizeBytes: number;
  uploadTime: Date;
}

/**
 * `found-on-repeat`: the first attempt failed transiently and a repeat answered
 * ALREADY_EXISTS, so most likely that first attempt created it and its answer was lost
 * (or a parallel run created it in between).
 */
export type CreateOutcome = 'created' | 'already-exists' | 'found-on-repeat';

type Timestamp =
  | {seconds?: number | string | Long | null; nanos?: number | null}
  | null
  | undefined;
type Long = {toNumber(): number};

function toDate(timestamp: Timestamp): Date {
  if (!timestamp) return new Date(0);
  const raw = timestamp.seconds;
  const seconds =
    typeof raw === 'object' && raw !== null ? raw.toNumber() : Number(raw ?? 0);
  return new Date(seconds * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6));
}

function toNumber(value: number | string | Long | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'object' ? value.toNumber() : Number(value);
}

type Version = protos.google.devtools.artifactregistry.v1.IVersion;
type ListVersionsRequest =
  protos.google.devtools.artifactregistry.v1.IListVersionsRequest;

/** Artifact Registry v1 caps ListVersions pages at 1,000 versions. */
const LIST_VERSIONS_PAGE_SIZE = 1000;

export class ArtifactRegistry {
  constructor(
    private readonly client: () => Promise<ArtifactRegistryClient>,
    private readonly config: Config,
    private readonly retry: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {}

  /** The repository's resource name, where no client is at hand. */
  repositoryName(id: string): string {
    return repositoryResourceName(
      this.config.projectId,
      this.config.region,
      id,
    );
  }

  /** The repository, or null when it does not exist. */
  async getRepository(id: string): Promise<RepositoryInfo | null> {
    return this.call(
      {permission: 'artifactregistry.repositories.get', repeat: 'read'},
      async (client, {options}) => {
        try {
          const [repository] = await client.getRepository(
            {name: this.names(client).repository(id)},
            options,
          );
          return toRepositoryInfo(repository);
        } catch (error) {
          if (classifyError(error) === 'not-found') return null;
          throw error;
        }
      },
    );
  }

  async createRepository(
    id: string,
    tier: Tier,
    description: string,
  ): Promise<CreateOutcome> {
    return this.call(
      {permission: 'artifactregistry.repositories.create', repeat: 'converges'},
      async (client, attempt) => {
        try {
          const [operation] = await client.createRepository(
            {
              parent: this.names(client).location(),
              repositoryId: id,
              repository: {
                format: 'DOCKER',
                description,
                labels: {
                  [LIFECYCLE_LABEL]: tier,
                  [MANAGED_BY_LABEL]: MANAGED_BY,
                },
              },
            },
            attempt.options,
          );
          await operation.promise();
          return 'created';
        } catch (error) {
          if (classifyError(error) !== 'already-exists') throw error;
          return attempt.number > 1 ? 'found-on-repeat' : 'already-exists';
        }
      },
    );
  }

  /** Replace the repository's labels (an update mask limits the change to labels). */
  async setRepositoryLabels(
    id: string,
    labels: Record<string, string>,
  ): Promise<void> {
    await this.call(
      {permission: 'artifactregistry.repositories.update', repeat: 'converges'},
      async (client, {options}) => {
        await client.updateRepository(
          {
            repository: {name: this.names(client).repository(id), labels},
            updateMask: {paths: ['labels']},
          },
          options,
        );
      },
    );
  }

  /** The version a tag points at, or null when the tag (or its repository) is absent. */
  async getTag(
    repositoryId: string,
    image: string,
    tag: string,
  ): Promise<TagInfo | null> {
    return this.call(
      {permission: 'artifactregistry.tags.get', repeat: 'read'},
      async (client, {options}) => {
        try {
          const [found] = await client.getTag(
            {name: this.names(client).tag(repositoryId, image, tag)},
            options,
          );
          const version = found.version ?? '';
          return {tag, digest: version.slice(version.lastIndexOf('/') + 1)};
        } catch (error) {
          if (classifyError(error) === 'not-found') return null;
          throw error;
        }
      },
    );
  }

  /** Every version of an image with its tags, all pages. Empty when the image is absent. */
  async listVersions(
    repositoryId: string,
    image: string,
  ): Promise<ImageVersion[]> {
    return this.call(
      {permission: 'artifactregistry.versions.list', repeat: 'read'},
      async (client, {options}) => {
        try {
          // The API's largest page (ListVersionsRequest.page_size): an image with a cleanup
          // backlog lists in one call, not one per 100 versions. Paged here: gax warns when a
          // pageSize comes with its own auto-pagination.
          const versions: Version[] = [];
          let request: ListVersionsRequest | null = {
            parent: this.names(client).package(repositoryId, image),
            view: 'FULL',
            pageSize: LIST_VERSIONS_PAGE_SIZE,
          };
          while (request) {
            const [page, next]: [
              Version[],
              ListVersionsRequest | null,
              unknown,
            ] = await client.listVersions(request, {
              ...options,
              autoPaginate: false,
            });
            versions.push(...page);
            request = next;
          }
          return versions.map(version => {
            const name = version.name ?? '';
            const tags = (version.relatedTags ?? []).map(t => {
              const tagName = t.name ?? '';
              return decodeURIComponent(
                tagName.slice(tagName.lastIndexOf('/') + 1),
              );
            });
            return {
              name,
              digest: name.slice(name.lastIndexOf('/') + 1),
              tags,
              uploadTime: toDate(
                (version.updateTime ?? version.createTime) as Timestamp,
              ),
              sizeBytes: sizeFromMetadata(version.metadata),
            };
          });
        } catch (error) {
          if (classifyError(error) === 'not-found') return [];
          throw error;
        }
      },
    );
  }

  /** Docker images in a repository, all pages. Empty when the repository is absent. */
  async listDockerImages(repositoryId: string): Promise<DockerImageInfo[]> {
    return this.call(
      {permission: 'artifactregistry.dockerimages.list', repeat: 'read'},
      async (client, {options}) => {
        try {
          const [images] = await client.listDockerImages(
            {parent: this.names(client).repository(repositoryId)},
            options,
          );
          return images.map(image => {
            const name = image.name ?? '';
            const [, path = '', digest = ''] =
              /dockerImages\/(.+)@(sha256:.+)$/.exec(name) ?? [];
            return {
              image: decodeURIComponent(path),
              digest,
              tags: image.tags ?? [],
              sizeBytes: toNumber(
                image.imageSizeBytes as number | string | Long | null,
              ),
              uploadTime: toDate(image.uploadTime as Timestamp),
            };
          });
        } catch (error) {
          if (classifyError(error) === 'not-found') return [];
          throw error;
        }
      },
    );
  }

  async deleteTag(
    repositoryId: string,
    image: string,
    tag: string,
  ): Promise<void> {
    await this.call(
      {permission: 'artifactregistry.tags.delete', repeat: 'converges'},
      async (client, {options}) => {
        try {
          await client.deleteTag(
            {name: this.names(client).tag(repositoryId, image, tag)},
            options,
          );
        } catch (error) {
          if (classifyError(error) !== 'not-found') throw error;
        }
      },
    );
  }

  async deleteVersion(
    repositoryId: string,
    image: string,
    digest: string,
  ): Promise<void> {
    await this.call(
      {permission: 'artifactregistry.versions.delete', repeat: 'converges'},
      async (client, {options}) => {
        try {
          const [operation] = await client.deleteVersion(
            {name: this.names(client).version(repositoryId, image, digest)},
            options,
          );
          await operation.promise();
        } catch (error) {
          if (classifyError(error) !== 'not-found') throw error;
        }
      },
    );
  }

  /**
   * Resource names in this project and region, from the client's path templates. The
   * templates insert values as given: package and tag ids are URL-encoded here, as the
   * API names them (an image name may contain '/').
   */
  private names(client: ArtifactRegistryClient) {
    const {projectId, region} = this.config;
    const encode = encodeURIComponent;
    return {
      // This client has no template for a location.
      location: () => `projects/${projectId}/locations/${region}`,
      repository: (id: string) => client.repositoryPath(projectId, region, id),
      package: (repositoryId: string, image: string) =>
        client.packagePath(projectId, region, repositoryId, encode(image)),
      tag: (repositoryId: string, image: string, tag: string) =>
        client.tagPath(
          projectId,
          region,
          repositoryId,
          encode(image),
          encode(tag),
        ),
      version: (repositoryId: string, image: string, digest: string) =>
        client.versionPath(
          projectId,
          region,
          repositoryId,
          encode(image),
          digest,
        ),
    };
  }

  private async call<T>(
    call: GoogleCall,
    operation: (client: ArtifactRegistryClient, attempt: Attempt) => Promise<T>,
  ): Promise<T> {
    const client = await this.client();
    return callGoogleApi(
      call,
      attempt => operation(client, attempt),
      this.retry,
    );
  }
}

function sizeFromMetadata(metadata: unknown): number {
  const fields = (
    metadata as {
      fields?: Record<string, {stringValue?: string; numberValue?: number}>;
    }
  )?.fields;
  const size = fields?.imageSizeBytes;
  return Number(size?.stringValue ?? size?.numberValue ?? 0);
}

export function toRepositoryInfo(repository: {
  name?: string | null;
  format?: unknown;
  labels?: Record<string, string> | null;
  description?: string | null;
  sizeBytes?: number | string | Long | null;
}): RepositoryInfo {
  const name = repository.name ?? '';
  const parsed = parseRepositoryName(name);
  const format =
    typeof repository.format === 'number'
      ? (FORMAT_NAMES[repository.format] ?? String(repository.format))
      : String(repository.format ?? 'FORMAT_UNSPECIFIED');
  return {
    id: parsed?.repositoryId ?? '',
    name,
    format,
    location: parsed?.location ?? '',
    labels: {...(repository.labels ?? {})},
    description: repository.description ?? '',
    sizeBytes: toNumber(repository.sizeBytes),
  };
}
