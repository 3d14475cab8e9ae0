/**
 * A local Artifact Registry (google.devtools.artifactregistry.v1.ArtifactRegistry) served over
 * gRPC, for the official `@google-cloud/artifact-registry` client. Docker-format repositories only
 * hold images; other formats can be created but stay empty.
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
  type StoredImage,
  type StoredRepository,
  digestOf,
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
import {pageRequest, paginate} from './pagination';

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
  sizeBytes?: number;
  uploadTime?: Date;
  buildTime?: Date;
  /** Defaults to a digest derived from the repository, image, tags and upload time. */
  digest?: string;
}

export type RepositoryRef = string | RepositoryKey;

function toRepositoryKey(repository: RepositoryRef): RepositoryKey {
  return typeof repository === 'string'
    ? parseRepositoryName(repository)
    : repository;
}

export class ArtifactRegistryStandIn extends GrpcStandIn<ArtifactRegistryMethod> {
  /** The repositories and images; the Cloud Build stand-in pushes through it. */
  readonly store = new ArtifactStore();
  private readonly protos = loadArtifactRegistryProtos();

  private constructor(options: ArtifactRegistryStandInOptions) {
    super('the Artifact Registry stand-in', options.faultSeed);
  }

  /** Starts serving on 127.0.0.1. */
  static async start(
    options: ArtifactRegistryStandInOptions = {},
  ): Promise<ArtifactRegistryStandIn> {
    const standIn = new ArtifactRegistryStandIn(options);
    await standIn.serve(standIn.protos, SERVICE, options.port);
    return standIn;
  }

  /** Clears repositories, images, operations, faults and call counts. */
  reset(): void {
    this.store.clear();
    this.operations.clear();
    this.faults.reset();
    this.calls.clear();
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

  /** Puts an image with `tags` into an existing repository, as a push would. */
  seedImage(
    repository: RepositoryRef,
    image: string,
    tags: readonly string[],
    options: SeedImageOptions = {},
  ): StoredImage {
    const key = toRepositoryKey(repository);
    const uploadTime = options.uploadTime ?? new Date();
    const digest =
      options.digest ??
      digestOf(
        `seed/${locationName(key)}/${key.repositoryId}/${image}/${tags.join(',')}/${uploadTime.toISOString()}`,
      );
    return this.store.pushImage(
      {...key, image},
      {
        digest,
        tags,
        sizeBytes: options.sizeBytes ?? 0,
        uploadTime,
        buildTime: options.buildTime,
      },
      uploadTime,
    );
  }

  // --- gRPC handlers --------------------------------------------------------------------------

  protected serviceImplementation() {
    const store = this.store;
    const call = (
      method: ArtifactRegistryMethod,
      handler: (request: ProtoObject) => object,
    ) => unary(this, method, handler);
    return {
      ListRepositories: call('ListRepositories', request => {
        const location = parseLocationName(stringField(request, 'parent'));
        const page = paginate(
          store.listRepositories(location),
          pageRequest(request),
          `repositories:${locationName(location)}`,
        );
        return {
          repositories: page.items.map(r => repositoryToWire(r, store)),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetRepository: call('GetRepository', request =>
        repositoryToWire(
          store.getRepository(
            parseRepositoryName(stringField(request, 'name')),
          ),
          store,
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
      ListDockerImages: call('ListDockerImages', request => {
        const key = parseRepositoryName(stringField(request, 'parent'));
        const page = paginate(
          store.listImages(key),
          pageRequest(request),
          `dockerImages:${key.repositoryId}`,
        );
        return {
          dockerImages: page.items.map(dockerImageToWire),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetDockerImage: call('GetDockerImage', request => {
        const name = stringField(request, 'name');
        const match =
          /^(.+)\/dockerImages\/([^/]+)@(sha256:[0-9a-f]{64})$/.exec(name);
        if (!match)
          throw invalidArgument(`invalid docker image name "${name}"`);
        const pkg = parsePackageName(`${match[1]}/packages/${match[2]}`);
        return dockerImageToWire(store.getVersion(pkg, match[3]));
      }),
      ListPackages: call('ListPackages', request => {
        const key = parseRepositoryName(stringField(request, 'parent'));
        const page = paginate(
          store.listPackages(key),
          pageRequest(request),
          `packages:${key.repositoryId}`,
        );
        return {
          packages: page.items.map(packageToWire),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetPackage: call('GetPackage', request =>
        packageToWire(
          store.getPackage(parsePackageName(stringField(request, 'name'))),
        ),
      ),
      ListVersions: call('ListVersions', request => {
        const key = parsePackageName(stringField(request, 'parent'));
        const full = stringField(request, 'view') === 'FULL';
        const page = paginate(
          store.listVersions(key),
          pageRequest(request),
          `versions:${key.image}`,
        );
        return {
          versions: page.items.map(image => versionToWire(image, full)),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetVersion: call('GetVersion', request => {
        const key = parseVersionName(stringField(request, 'name'));
        return versionToWire(
          store.getVersion(key, key.digest),
          stringField(request, 'view') === 'FULL',
        );
      }),
      DeleteVersion: call('DeleteVersion', request => {
        const key = parseVersionName(stringField(request, 'name'));
        store.deleteVersion(key, key.digest, booleanField(request, 'force'));
        return this.doneOperation(key, EMPTY_TYPE, {});
      }),
      ListTags: call('ListTags', request => {
        const key = parsePackageName(stringField(request, 'parent'));
        const version = parseTagFilter(stringField(request, 'filter'));
        const tags = store
          .listTags(key)
          .filter(
            tag =>
              version === undefined || versionName(tag, tag.digest) === version,
          );
        const page = paginate(tags, pageRequest(request), `tags:${key.image}`);
        return {
          tags: page.items.map(tagToWire),
          nextPageToken: page.nextPageToken,
        };
      }),
      GetTag: call('GetTag', request => {
        const key = parseTagName(stringField(request, 'name'));
        return tagToWire(store.getTag(key, key.tag));
      }),
      CreateTag: call('CreateTag', request => {
        const key = parsePackageName(stringField(request, 'parent'));
        const tag = validateTag(stringField(request, 'tagId'));
        const version = parseVersionName(
          stringField(messageField(request, 'tag') ?? {}, 'version'),
        );
        return tagToWire(store.createTag(key, tag, version.digest));
      }),
      UpdateTag: call('UpdateTag', request => {
        const wireTag = messageField(request, 'tag') ?? {};
        const key = parseTagName(stringField(wireTag, 'name'));
        const paths = fieldMaskPaths(request, 'updateMask');
        if (paths.some(path => path !== 'version')) {
          throw invalidArgument(
            `update_mask may only contain "version", got ${paths.join(', ')}`,
          );
        }
        const version = parseVersionName(stringField(wireTag, 'version'));
        return tagToWire(store.updateTag(key, key.tag, version.digest));
      }),
      DeleteTag: call('DeleteTag', request => {
        const key = parseTagName(stringField(request, 'name'));
        store.deleteTag(key, key.tag);
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
      repositoryToWire(created, this.store),
    );
  }

  private updateRepository(request: ProtoObject): object {
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
    return repositoryToWire(updated, this.store);
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
