/**
 * From command-line input to a message, validated with the same schemas the
 * functions decode with. Anything wrong is refused here, before publishing,
 * with what is accepted.
 */
import type {z} from 'zod';
import {Catalog} from '../shared/catalog';
import {
  DOCKERFILE_HASH_PATTERN,
  DockerfileChanged,
  SetupRequest,
  TeardownRequest,
} from '../shared/events';
import {UsageError} from './errors';

export const SETUP_TOPIC = 'setup-requested';
export const TEARDOWN_TOPIC = 'teardown-requested';

function validated<Schema extends z.ZodType>(
  schema: Schema,
  message: unknown,
  what: string,
): z.infer<Schema> {
  const parsed = schema.safeParse(message);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .map(i => `  ${i.path.join('.') || '(message)'}: ${i.message}`)
    .join('\n');
  throw new UsageError(`Invalid ${what}:\n${problems}`);
}

export interface SetupInput {
  dryRun?: boolean;
  requestedBy: string;
}

export function setupMessage(input: SetupInput): SetupRequest {
  return validated(
    SetupRequest,
    {requestedBy: input.requestedBy, ...(input.dryRun ? {dryRun: true} : {})},
    'setup request',
  );
}

export interface TeardownInput {
  confirm?: string;
  dryRun?: boolean;
  skipImages?: boolean;
  requestedBy: string;
}

/**
 * A confirmation that is not exactly the ephemeral repository id is refused
 * here already; the teardown guard would refuse it too, after publishing.
 */
export function teardownMessage(
  input: TeardownInput,
  ephemeralRepository: string,
): TeardownRequest {
  if (input.confirm !== undefined && input.confirm !== ephemeralRepository) {
    throw new UsageError(
      `--confirm must be exactly the ephemeral repository id, "${ephemeralRepository}"; got "${input.confirm}". ` +
        'Without --confirm, teardown is a dry run that shows what it would delete and preserve.',
    );
  }
  return validated(
    TeardownRequest,
    {
      requestedBy: input.requestedBy,
      ...(input.confirm !== undefined ? {confirm: input.confirm} : {}),
      ...(input.dryRun ? {dryRun: true} : {}),
      ...(input.skipImages ? {skipImages: true} : {}),
    },
    'teardown request',
  );
}

export interface ChangedInput {
  image: string;
  hash: string | undefined;
  source?: string;
  force?: boolean;
  requestedBy: string;
}

/** Where the Dockerfile trigger uploads a build context (see cloudbuild/dockerfile-changed.yaml). */
export function defaultSource(
  projectId: string,
  image: string,
  hash: string,
): string {
  return `gs://${projectId}-arr-build-contexts/contexts/${image}/${hash}.tar.gz`;
}

/** The checks that need no project: image and hash. */
export function checkChangedInput(
  image: string,
  hash: string | undefined,
  catalog: Catalog,
): asserts hash is string {
  if (!catalog.has(image)) {
    throw new UsageError(
      `Unknown image "${image}". The catalog has: ${catalog.names().join(', ')}.`,
    );
  }
  if (hash === undefined) {
    throw new UsageError(
      "--hash is required: the first 12 hex characters of the Dockerfile's sha256 (sha256sum Dockerfile | cut -c1-12).",
    );
  }
  if (!DOCKERFILE_HASH_PATTERN.test(hash)) {
    throw new UsageError(
      `--hash must be 12 lowercase hex characters (sha256sum Dockerfile | cut -c1-12); got "${hash}".`,
    );
  }
}

export function changedMessage(
  input: ChangedInput,
  catalog: Catalog,
  projectId: string,
): DockerfileChanged {
  checkChangedInput(input.image, input.hash, catalog);
  return validated(
    DockerfileChanged,
    {
      image: input.image,
      dockerfileHash: input.hash,
      source: input.source ?? defaultSource(projectId, input.image, input.hash),
      requestedBy: input.requestedBy,
      ...(input.force ? {force: true} : {}),
    },
    'dockerfile-changed message',
  );
}
