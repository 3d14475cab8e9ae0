/**
 * A local Artifact Registry (google.devtools.artifactregistry.v1.ArtifactRegistry) served over
 * gRPC, for the official `@google-cloud/artifact-registry` client. Docker-format repositories only
 * hold images; other formats can be created but stay empty. The images are a real Docker
 * registry's, which it starts and stops with itself, behind a front that refuses a push into a
 * repository the stand-in does not hold (`registryHost`).
 */
import {randomUUID} from 'node:crypto';
import {
  repositoryToWire,
  dockerImageToWire,
  packageToWire,
  tagToWire,
  versionToWire,
} from './artifact-registry-wire';
import {
  ArtifactStore,
  registryPath,
  type StoredImage,
  type StoredRepository,
} from './artifact-store';
import {invalidArgument} from './grpc-errors';
import {unary} from './grpc-server';
import {GrpcStandIn} from './grpc-stand-in';
import type {WireOperation} from './long-running';
import {loadArtifactRegistryProtos} from './proto-loading';
import {
  type LocationKey,
  type RepositoryKey,
  locationName,
  parseLocationName,
  parsePackageName,
  parseRepositoryName,
  parseTagName,
  parseVersionName,
  validateRepositoryId,
  validateTag,
  versionName,
} from './resource-names';
import {
  booleanField,
  fieldMaskPaths,
  messageField,
  type ProtoObject,
  stringField,
  stringMapField,
} from './request-fields';
import {MAX_PAGE_SIZE, pageRequest, paginate} from './pagination';
import {RegistryApi} from './registry-api';
import {type RegistryFront, startRegistryFront} from './registry-front';
import {type RegistryProcess, startRegistryProcess} from './registry-process';
import {RegistryStorage} from './registry-storage';

/** The methods served (plus `google.longrunning.Operations/GetOperation`). */
export const ArtifactRegistryMethod = [
  'ListRepositories',
  'GetRepository',
  'CreateRepository',
  'UpdateRepository',
  'DeleteRepository',
  'ListDockerImages',
  'GetDockerImage',
  'ListPackages',
  'GetPackage',
  'ListVersions',
  'GetVersion',
  'DeleteVersion',
  'ListTags',
  'GetTag',
  'CreateTag',
  'UpdateTag',
  'DeleteTag',
  'GetOperation',
] as const;
export type ArtifactRegistryMethod = (typeof ArtifactRegistryMethod)[number];

const SERVICE = 'google.devtools.artifactregistry.v1.ArtifactRegistry';
const REPOSITORY_TYPE = 'google.devtools.artifactregistry.v1.Repository';
const METADATA_TYPE = 'google.devtools.artifactregistry.v1.OperationMetadata';
const EMPTY_TYPE = 'google.protobuf.Empty';

const REPOSITORY_FORMATS = [
  'DOCKER',
  'MAVEN',
  'NPM',
  'APT',
  'YUM',
  'PYTHON',
  'KFP',
  'GO',
  'GENERIC',
  'RUBY',
] as const;

/** Fields of `Repository` that UpdateRepository changes (update_mask paths). */
const UPDATABLE_REPOSITORY_FIELDS = ['labels', 'description'] as const;

export interface ArtifactRegistryStandInOptions {
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  /** Seed of the generator used by probabilistic faults. */
  faultSeed?: number;
}

export interface SeedImageOptions {
  /**
   * The text of the image's one file; the same text gives the same digest (one image in two
   * repositories). Defaults to a text naming the repository, image, tags and upload time.
   */
  content?: string;
  /** Seeding control: when the version and its tags count as pushed (default now). */
  uploadTime?: Date;
}

export type RepositoryRef = string | RepositoryKey;

function toRepositoryKey(repository: RepositoryRef): RepositoryKey {
  return typeof repository === 'string'
    ? parseRepositoryName(repository)
    : repository;
}

export class ArtifactRegistryStandIn extends GrpcStandIn<ArtifactRegistryMethod> {
  /** The repositories and images; the Cloud Build stand-in pushes through it. */
  readonly store: ArtifactStore;
  private readonly protos = loadArtifactRegistryProtos();
  private front?: RegistryFront;

  private constructor(
    options: ArtifactRegistryStandInOptions,
    private readonly registry: RegistryProcess,
  ) {
    super('the Artifact Registry stand-in', options.faultSeed);
    this.store = new ArtifactStore(
      new RegistryStorage(registry.storageRoot),
      new RegistryApi(registry.host),
    );
  }

  /** Starts its Docker registry, the registry's front, and serving on 127.0.0.1. */
  static async start(
    options: ArtifactRegistryStandInOptions = {},
  ): Promise<ArtifactRegistryStandIn> {
    const standIn = new ArtifactRegistryStandIn(
      options,
      await startRegistryProcess(),
    );
    try {
      standIn.front = await startRegistryFront({
        backend: standIn.registry.host,
        holds: (projectId, repositoryId) =>
          standIn.store.findDockerRepository(projectId, repositoryId) !==
          undefined,
      });
      await standIn.serve(standIn.protos, SERVICE, options.port);
    } catch (error) {
      await standIn.stop();
      throw error;
    }
    return standIn;
  }

  /**
   * The most versions a ListVersions page holds (default the API's 1,000). A server may return
   * fewer than asked for, with a next page (AIP-158); a test lowers it to see a client page on.
   */
  maxPageSize = MAX_PAGE_SIZE;

  /** `127.0.0.1:PORT`: where `docker push` and `docker pull` reach the images, `HOST/P/R/IMAGE`. */
  get registryHost(): string {
    if (!this.front)
      throw new Error('the Artifact Registry stand-in is not running');
    return this.front.host;
  }

  /** Stops serving, then the registry's front and the registry (its images go with it). */
  async stop(): Promise<void> {
    await super.stop();
    await this.front?.stop();
    this.front = undefined;
    await this.registry.stop();
  }

  /** Clears repositories, images, operations, faults, call counts and the page limit. */
  reset(): void {
    this.store.clear();
    this.operations.clear();
    this.faults.reset();
    this.calls.clear();
    this.maxPageSize = MAX_PAGE_SIZE;
  }

  // --- seeding (bypasses accounting and faults) -----------------------------------------------

  /** Creates a repository directly (format DOCKER unless given). Accepts a full name or a key. */
  seedRepository(
    repository: RepositoryRef,
    fields: {
      format?: string;
      description?: string;
      labels?: Record<string, string>;
    } = {},
  ): StoredRepository {
    return this.store.createRepository(toRepositoryKey(repository), {
      format: fields.format ?? 'DOCKER',
      description: fields.description,
      labels: fields.labels,
    });
  }

  /**
   * Pushes a small real image with `tags` into an existing repository through the registry,
   * and returns the version as stored (its digest is the pushed manifest's).
   */
  async seedImage(
    repository: RepositoryRef,
    image: string,
    tags: readonly string[],
    options: SeedImageOptions = {},
  ): Promise<StoredImage> {
    const key = {...toRepositoryKey(repository), image};
    const content =
      options.content ??
      `seed ${registryPath(key)}:${tags.join(',')}${options.uploadTime ? ` at ${options.uploadTime.toISOString()}` : ''}`;
    const pushed = await this.store.pushImage(key, tags, content);
    if (options.uploadTime === undefined) return pushed;
    this.store.setPushTime(key, pushed.digest, tags, options.uploadTime);
    return this.store.getVersion(key, pushed.digest);
  }

  // --- gRPC handlers --------------------------------------------------------------------------

  protected serviceImplementation() {
    const store = this.store;
    const call = (
      method: ArtifactRegistryMethod,
      handler: (request: ProtoObject) => object | Promise<object>,
    ) => unary(this, method, handler);
    const repositoryWire = async (repository: StoredRepository) =>
      repositoryToWire(
        repository,
        await store.repositorySizeBytes(repository),
        this.registryHost,
      );
    const imageWire = (image: StoredImage) =>
      dockerImageToWire(image, this.registryHost);
    return {
      ListRepositories: call('ListRepositories', async request => {
        const location = parseLocationName(stringField(request, 'parent'));
        const page = paginate(
          store.listRepositories(location),
          pageRequest(request),
          `repositories:${locationName(location)}`,
        );
        return {
          repositories: await Promise.all(page.items.map(repositoryWire)),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetRepository: call('GetRepository', request =>
        repositoryWire(
          store.getRepository(
            parseRepositoryName(stringField(request, 'name')),
          ),
        ),
      ),
      CreateRepository: call('CreateRepository', request =>
        this.createRepository(request),
      ),
      UpdateRepository: call('UpdateRepository', request =>
        this.updateRepository(request),
      ),
      DeleteRepository: call('DeleteRepository', request => {
        const key = parseRepositoryName(stringField(request, 'name'));
        store.deleteRepository(key);
        return this.doneOperation(key, EMPTY_TYPE, {});
      }),
      ListDockerImages: call('ListDockerImages', async request => {
        const key = parseRepositoryName(stringField(request, 'parent'));
        const page = paginate(
          await store.listImages(key),
          pageRequest(request),
          `dockerImages:${key.repositoryId}`,
        );
        return {
          dockerImages: page.items.map(imageWire),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetDockerImage: call('GetDockerImage', async request => {
        const name = stringField(request, 'name');
        const match =
          /^(.+)\/dockerImages\/([^/]+)@(sha256:[0-9a-f]{64})$/.exec(name);
        if (!match)
          throw invalidArgument(`invalid docker image name "${name}"`);
        const pkg = parsePackageName(`${match[1]}/packages/${match[2]}`);
        return imageWire(await store.getVersion(pkg, match[3]));
      }),
      ListPackages: call('ListPackages', async request => {
        const key = parseRepositoryName(stringField(request, 'parent'));
        const page = paginate(
          await store.listPackages(key),
          pageRequest(request),
          `packages:${key.repositoryId}`,
        );
        return {
          packages: page.items.map(packageToWire),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetPackage: call('GetPackage', async request =>
        packageToWire(
          await store.getPackage(
            parsePackageName(stringField(request, 'name')),
          ),
        ),
      ),
      ListVersions: call('ListVersions', async request => {
        const key = parsePackageName(stringField(request, 'parent'));
        const full = stringField(request, 'view') === 'FULL';
        const page = paginate(
          await store.listVersions(key),
          pageRequest(request),
          `versions:${key.image}`,
          this.maxPageSize,
        );
        return {
          versions: page.items.map(image => versionToWire(image, full)),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetVersion: call('GetVersion', async request => {
        const key = parseVersionName(stringField(request, 'name'));
        return versionToWire(
          await store.getVersion(key, key.digest),
          stringField(request, 'view') === 'FULL',
        );
      }),
      DeleteVersion: call('DeleteVersion', async request => {
        const key = parseVersionName(stringField(request, 'name'));
        await store.deleteVersion(
          key,
          key.digest,
          booleanField(request, 'force'),
        );
        return this.doneOperation(key, EMPTY_TYPE, {});
      }),
      ListTags: call('ListTags', async request => {
        const key = parsePackageName(stringField(request, 'parent'));
        const version = parseTagFilter(stringField(request, 'filter'));
        const tags = (await store.listTags(key)).filter(
          tag =>
            version === undefined || versionName(tag, tag.digest) === version,
        );
        const page = paginate(tags, pageRequest(request), `tags:${key.image}`);
        return {
          tags: page.items.map(tagToWire),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetTag: call('GetTag', async request => {
        const key = parseTagName(stringField(request, 'name'));
        return tagToWire(await store.getTag(key, key.tag));
      }),
      CreateTag: call('CreateTag', async request => {
        const key = parsePackageName(stringField(request, 'parent'));
        const tag = validateTag(stringField(request, 'tagId'));
        const version = parseVersionName(
          stringField(messageField(request, 'tag') ?? {}, 'version'),
        );
        return tagToWire(await store.createTag(key, tag, version.digest));
      }),
      UpdateTag: call('UpdateTag', async request => {
        const wireTag = messageField(request, 'tag') ?? {};
        const key = parseTagName(stringField(wireTag, 'name'));
        const paths = fieldMaskPaths(request, 'updateMask');
        if (paths.some(path => path !== 'version')) {
          throw invalidArgument(
            `update_mask may only contain "version", got ${paths.join(', ')}`,
          );
        }
        const version = parseVersionName(stringField(wireTag, 'version'));
        return tagToWire(await store.updateTag(key, key.tag, version.digest));
      }),
      DeleteTag: call('DeleteTag', async request => {
        const key = parseTagName(stringField(request, 'name'));
        await store.deleteTag(key, key.tag);
        return {};
      }),
    };
  }

  private createRepository(request: ProtoObject): WireOperation {
    const location = parseLocationName(stringField(request, 'parent'));
    const repositoryId = validateRepositoryId(
      stringField(request, 'repositoryId'),
    );
    const fields = messageField(request, 'repository') ?? {};
    const format = stringField(fields, 'format');
    if (!REPOSITORY_FORMATS.some(known => known === format)) {
      throw invalidArgument(
        `repository.format must be one of ${REPOSITORY_FORMATS.join(', ')}`,
      );
    }
    const key = {...location, repositoryId};
    const created = this.store.createRepository(key, {
      format,
      description: stringField(fields, 'description'),
      labels: stringMapField(fields, 'labels'),
    });
    return this.doneOperation(
      key,
      REPOSITORY_TYPE,
      repositoryToWire(created, 0, this.registryHost),
    );
  }

  private async updateRepository(request: ProtoObject): Promise<object> {
    const fields = messageField(request, 'repository') ?? {};
    const key = parseRepositoryName(stringField(fields, 'name'));
    const paths = fieldMaskPaths(request, 'updateMask');
    const unknown = paths.filter(
      path => !UPDATABLE_REPOSITORY_FIELDS.some(field => field === path),
    );
    if (unknown.length > 0) {
      throw invalidArgument(
        `update_mask paths not supported: ${unknown.join(', ')} ` +
          `(supported: ${UPDATABLE_REPOSITORY_FIELDS.join(', ')})`,
      );
    }
    // An empty mask updates every updatable field, per AIP-134.
    const updates = paths.length > 0 ? paths : UPDATABLE_REPOSITORY_FIELDS;
    const updated = this.store.updateRepository(key, {
      description: updates.includes('description')
        ? stringField(fields, 'description')
        : undefined,
      labels: updates.includes('labels')
        ? stringMapField(fields, 'labels')
        : undefined,
    });
    return repositoryToWire(
      updated,
      await this.store.repositorySizeBytes(updated),
      this.registryHost,
    );
  }

  /** A finished operation, as Artifact Registry returns for its LROs; kept for GetOperation. */
  private doneOperation(
    location: LocationKey,
    responseType: string,
    response: object,
  ): WireOperation {
    return this.operations.put({
      name: `${locationName(location)}/operations/${randomUUID()}`,
      metadata: this.protos.pack(METADATA_TYPE, {}),
      done: true,
      response: this.protos.pack(responseType, response),
    });
  }
}

/** ListTags filter: empty, or `version="<version name>"` (the form the real API documents). */
function parseTagFilter(filter: string): string | undefined {
  if (filter.trim() === '') return undefined;
  const match = /^\s*version\s*=\s*"([^"]+)"\s*$/.exec(filter);
  if (!match) {
    throw invalidArgument(
      `unsupported filter "${filter}": the stand-in supports version="<version name>"`,
    );
  }
  return match[1];
}
