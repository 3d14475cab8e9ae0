/**
 * Image builds on Cloud Build, in the domain's words: render the checked-in build config
 * (`cloudbuild/image-build.json`, also usable with `gcloud builds submit`) for one image
 * and cache key, start it, and look builds up again.
 */
import type {CloudBuildClient} from '@google-cloud/cloudbuild';
import type {google} from '@google-cloud/cloudbuild/build/protos/protos';
import template from '../cloudbuild/image-build.json';
import type {CatalogImage} from './catalog';
import type {Config} from './config';
import {classifyError, PermanentError} from './errors';
import {
  BuildStatus,
  GIT_SOURCE_PATTERN,
  STORAGE_SOURCE_PATTERN,
} from './messages';
import {imagePath} from './repository-id';
import {
  Attempt,
  callGoogleApi,
  DEFAULT_RETRY_POLICY,
  GoogleCall,
  RetryPolicy,
} from './retry';

type Build = google.devtools.cloudbuild.v1.IBuild;

/** Tag on every build this control plane starts; build-finished ignores builds without it. */
export const CONTROL_PLANE_BUILD_TAG = 'arr-control-plane';

export function attemptTag(attempt: number): string {
  return `arr-attempt-${attempt}`;
}

/** The attempt number a build was started for, from its tags. */
export function attemptOf(tags: readonly string[]): number | undefined {
  for (const tag of tags) {
    const match = /^arr-attempt-(\d+)$/.exec(tag);
    if (match) return Number(match[1]);
  }
  return undefined;
}

export interface ImageBuildRequest {
  image: CatalogImage;
  repository: string;
  key: string;
  source: string;
  /** `<path>@sha256:…` of the parent, pinned by digest; never `:latest`. */
  parentImage?: string;
  attempt: number;
  /** A deliberate rebuild: no layer cache at all (`--no-cache`). */
  force?: boolean;
}

export interface StartedBuild {
  buildId: string;
  logUrl?: string;
}

/** A build as Cloud Build answers for it: what build-finished acts on, never a notification's word. */
export interface BuildSnapshot {
  id: string;
  projectId?: string;
  status: BuildStatus;
  tags: string[];
  substitutions: Record<string, string>;
  /** `results.images`: what the build pushed, by name and digest. */
  images: {name: string; digest?: string}[];
  startTime?: string;
  finishTime?: string;
  logUrl?: string;
  failureDetail?: string;
  /** Its steps in order, with the status and times Cloud Build reports as they run. */
  steps: BuildStepSnapshot[];
  /** `results.buildStepOutputs`, by step index: what each step wrote to $BUILDER_OUTPUT/output. */
  stepOutputs: string[];
}

export interface BuildStepSnapshot {
  /** The step's `id` in the build config (`push-key`), if it has one. */
  id?: string;
  /** The builder image. */
  name: string;
  status: string;
  startTime?: string;
  endTime?: string;
}

export function imageBuildSubstitutions(
  config: Config,
  request: ImageBuildRequest,
): Record<string, string> {
  if (request.image.parent && !request.parentImage) {
    throw new PermanentError(
      `${request.image.name} builds FROM ${request.image.parent}, but no parent digest was given`,
    );
  }
  const path = imagePath(config, request.repository, request.image.name);
  return {
    _IMAGE: request.image.name,
    _CACHE_KEY: request.key,
    _IMAGE_PATH: path,
    _PARENT_IMAGE: request.parentImage ?? 'scratch',
    _DOCKERFILE: 'Dockerfile',
    _CACHE_FROM: layerCacheSource(path),
    _NO_CACHE: request.force ? 'true' : 'false',
  };
}

/**
 * Where a build imports its layer cache from (docs/ARCHITECTURE.md, "Layer cache"): the image's
 * own `:latest`, built with BuildKit's inline cache. Absent (a first build, or an ephemeral
 * image after a teardown), the build runs cold and its layer report says so.
 */
export function layerCacheSource(path: string): string {
  return `${path}:latest`;
}

function substitute(text: string, values: Record<string, string>): string {
  return text.replace(
    /\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)/g,
    (_whole, braced, bare) => {
      const name = (braced ?? bare) as string;
      if (!(name in values))
        throw new PermanentError(
          `build config uses unknown substitution ${name}`,
        );
      return values[name];
    },
  );
}

function buildSource(source: string): Pick<Build, 'source'> {
  const storage = STORAGE_SOURCE_PATTERN.exec(source);
  if (storage)
    return {source: {storageSource: {bucket: storage[1], object: storage[2]}}};
  const git = GIT_SOURCE_PATTERN.exec(source);
  if (git) return {source: {gitSource: {url: git[1], revision: git[2]}}};
  throw new PermanentError(`unsupported build source "${source}"`);
}

/** The Build resource for one image and key, with every substitution already applied. */
export function renderImageBuild(
  config: Config,
  request: ImageBuildRequest,
): Build {
  const values = imageBuildSubstitutions(config, request);
  const render = (text: string) => substitute(text, values);
  return {
    ...buildSource(request.source),
    steps: template.steps.map(step => ({
      id: step.id,
      name: step.name,
      ...('entrypoint' in step ? {entrypoint: step.entrypoint} : {}),
      ...(step.env ? {env: step.env.map(render)} : {}),
      args: step.args.map(render),
    })),
    images: template.images.map(render),
    substitutions: values,
    tags: [...template.tags.map(render), attemptTag(request.attempt)],
    timeout: {seconds: request.image.buildTimeoutSeconds},
    options: {
      logging: 'CLOUD_LOGGING_ONLY',
      substitutionOption: 'ALLOW_LOOSE',
      machineType: request.image.machineType,
    },
    ...(config.buildServiceAccount
      ? {
          serviceAccount: `projects/${config.projectId}/serviceAccounts/${config.buildServiceAccount}`,
        }
      : {}),
  } as Build;
}

export class ImageBuilds {
  constructor(
    private readonly client: () => Promise<CloudBuildClient>,
    private readonly config: Config,
    private readonly retry: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {}

  /**
   * Start the build. Sent once, never repeated: a repeat would start a second build. A
   * transient failure throws OutcomeUnknownError (the build may exist, its answer lost):
   * look it up by its claim's tags (`findAttempt`) before starting anything again.
   */
  async start(request: ImageBuildRequest): Promise<StartedBuild> {
    const build = renderImageBuild(this.config, request);
    return this.call(
      {permission: 'cloudbuild.builds.create', repeat: 'once'},
      async (client, {options}) => {
        const [operation] = await client.createBuild(
          {projectId: this.config.projectId, build},
          options,
        );
        const metadata = operation.metadata as
          {build?: Build} | null | undefined;
        const id = metadata?.build?.id;
        if (!id)
          throw new Error(
            'Cloud Build returned an operation without a build id',
          );
        return {buildId: id, logUrl: metadata?.build?.logUrl ?? undefined};
      },
    );
  }

  /** The build as Cloud Build has it in this project; null if it knows no such build here. */
  async get(buildId: string): Promise<BuildSnapshot | null> {
    return this.call(
      {permission: 'cloudbuild.builds.get', repeat: 'read'},
      async (client, {options}) => {
        try {
          const [build] = await client.getBuild(
            {projectId: this.config.projectId, id: buildId},
            options,
          );
          return snapshot(build);
        } catch (error) {
          if (classifyError(error) === 'not-found') return null;
          throw error;
        }
      },
    );
  }

  /** Builds this control plane started for (image, key), newest first. */
  async findFor(image: string, key: string): Promise<BuildSnapshot[]> {
    return this.list(`tags="arr-image-${image}" AND tags="arr-key-${key}"`);
  }

  /**
   * The build started for one attempt at (image, key), by the tags every build carries
   * (`arr-image-…`, `arr-key-…`, `arr-attempt-N`): how a claim finds its build when the
   * answer to CreateBuild never arrived. Undefined if Cloud Build lists none.
   */
  async findAttempt(
    image: string,
    key: string,
    attempt: number,
  ): Promise<BuildSnapshot | undefined> {
    const builds = await this.list(
      `tags="arr-image-${image}" AND tags="arr-key-${key}" AND tags="${attemptTag(attempt)}"`,
    );
    return builds.find(build => attemptOf(build.tags) === attempt);
  }

  private list(filter: string): Promise<BuildSnapshot[]> {
    return this.call(
      {permission: 'cloudbuild.builds.list', repeat: 'read'},
      async (client, {options}) => {
        const [builds] = await client.listBuilds(
          {projectId: this.config.projectId, filter},
          options,
        );
        return builds.map(snapshot);
      },
    );
  }

  private async call<T>(
    call: GoogleCall,
    operation: (client: CloudBuildClient, attempt: Attempt) => Promise<T>,
  ): Promise<T> {
    const client = await this.client();
    return callGoogleApi(
      call,
      attempt => operation(client, attempt),
      this.retry,
    );
  }
}

// Build.Status numbers, for results decoded without enum names (long-running operations).
const STATUS_NAMES: Record<number, string> = {
  0: 'STATUS_UNKNOWN',
  10: 'PENDING',
  1: 'QUEUED',
  2: 'WORKING',
  3: 'SUCCESS',
  4: 'FAILURE',
  5: 'INTERNAL_ERROR',
  6: 'TIMEOUT',
  7: 'CANCELLED',
  9: 'EXPIRED',
};

function statusName(status: Build['status']): BuildStatus {
  const name =
    typeof status === 'number' ? STATUS_NAMES[status] : String(status);
  return BuildStatus.find(known => known === name) ?? 'STATUS_UNKNOWN';
}

function snapshot(build: Build): BuildSnapshot {
  // Unset strings may arrive as '' (proto3 defaults): read as absent.
  return {
    id: build.id ?? '',
    projectId: build.projectId || undefined,
    status: statusName(build.status),
    tags: build.tags ?? [],
    substitutions: {...(build.substitutions ?? {})},
    images: (build.results?.images ?? []).map(image => ({
      name: image.name ?? '',
      digest: image.digest || undefined,
    })),
    startTime: timestampToIso(build.startTime),
    finishTime: timestampToIso(build.finishTime),
    steps: (build.steps ?? []).map(step => ({
      ...(step.id ? {id: step.id} : {}),
      name: step.name ?? '',
      status: statusName(step.status),
      startTime: timestampToIso(step.timing?.startTime),
      endTime: timestampToIso(step.timing?.endTime),
    })),
    stepOutputs: (build.results?.buildStepOutputs ?? []).map(output =>
      Buffer.from(
        typeof output === 'string' ? Buffer.from(output, 'base64') : output,
      ).toString('utf8'),
    ),
    logUrl: build.logUrl || undefined,
    failureDetail: build.failureInfo?.detail || build.statusDetail || undefined,
  };
}

function timestampToIso(
  timestamp:
    | {
        seconds?: number | string | {toString(): string} | null;
        nanos?: number | null;
      }
    | null
    | undefined,
): string | undefined {
  if (
    !timestamp ||
    timestamp.seconds === null ||
    timestamp.seconds === undefined
  ) {
    return undefined;
  }
  const millis =
    Number(String(timestamp.seconds)) * 1000 +
    Math.floor((timestamp.nanos ?? 0) / 1e6);
  return new Date(millis).toISOString();
}
