/**
 * From command-line input to a message, validated with the same schemas the
 * functions decode with. Anything wrong is refused here, before publishing,
 * with what is accepted.
 */
import type {z} from 'zod';
import {contextObjectName, storageUri} from '../shared/build-contexts';
import {Catalog, keyCoversOf} from '../shared/catalog';
import {DEFAULT_TOPICS} from '../shared/function-specs';
import {
  DOCKERFILE_HASH_PATTERN,
  DockerfileChanged,
  SetupRequest,
  TeardownRequest,
} from '../shared/messages';
import {README_CONTEXT_DIGEST} from '../shared/readme-links';
import {UsageError} from './errors';

export const SETUP_TOPIC = DEFAULT_TOPICS.setupRequestedTopic;
export const TEARDOWN_TOPIC = DEFAULT_TOPICS.teardownRequestedTopic;

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
  /** Context-keyed images only. */
  contextDigest?: string;
  source?: string;
  force?: boolean;
  requestedBy: string;
}

/**
 * Where the Dockerfile trigger uploads a build context (see cloudbuild/dockerfile-changed.yaml),
 * in the configured contexts bucket.
 */
export function defaultSource(
  contextsBucket: string,
  image: string,
  hash: string,
  contextDigest?: string,
): string {
  return storageUri({
    bucket: contextsBucket,
    name: contextObjectName(image, hash, contextDigest),
  });
}

/**
 * `arr changed <image>` with neither --from nor --hash: --from first, since it computes
 * everything the image's key covers; --hash alone would be refused again for a
 * context-keyed image, so the by-hand way names both values.
 */
function missingHash(image: string, contextKeyed: boolean): string {
  const byHand = contextKeyed
    ? `Or give both by hand: --hash <12hex> --context-digest <12hex> (sha256sum Dockerfile | cut -c1-12; the digest's recipe: ${README_CONTEXT_DIGEST}).`
    : 'Or give it by hand: --hash <12hex> (sha256sum Dockerfile | cut -c1-12).';
  return (
    `arr changed ${image} needs the values its cache key covers. Give --from <folder> (the image's folder, or a checkout holding the catalog's paths): ` +
    `arr computes the Dockerfile hash${contextKeyed ? ' and the context digest' : ''} from it. ${byHand}`
  );
}

/** The checks that need no project: image, hash and context digest. */
export function checkChangedInput(
  image: string,
  hash: string | undefined,
  catalog: Catalog,
  contextDigest?: string,
): asserts hash is string {
  if (!catalog.has(image)) {
    throw new UsageError(
      `Unknown image "${image}". The catalog has: ${catalog.names().join(', ')}.`,
    );
  }
  const entry = catalog.get(image)!;
  const contextKeyed = keyCoversOf(entry) === 'context';
  if (hash === undefined) {
    throw new UsageError(missingHash(image, contextKeyed));
  }
  if (!DOCKERFILE_HASH_PATTERN.test(hash)) {
    throw new UsageError(
      `--hash must be 12 lowercase hex characters (sha256sum Dockerfile | cut -c1-12); got "${hash}".`,
    );
  }
  if (contextKeyed) {
    if (contextDigest === undefined) {
      throw new UsageError(
        `${image} is keyed on its whole build context (catalog: "keyCovers": "context"): give --from <folder> (computes the Dockerfile hash and the context digest), or --context-digest <12hex> (the recipe: ${README_CONTEXT_DIGEST}).`,
      );
    }
    if (!DOCKERFILE_HASH_PATTERN.test(contextDigest)) {
      throw new UsageError(
        `--context-digest must be 12 lowercase hex characters (--from <folder> computes it; the recipe: ${README_CONTEXT_DIGEST}); got "${contextDigest}".`,
      );
    }
  } else if (contextDigest !== undefined) {
    throw new UsageError(
      `${image} is keyed on its Dockerfile alone (catalog: "keyCovers": "dockerfile"); --context-digest does not apply to it.`,
    );
  }
}

export function changedMessage(
  input: ChangedInput,
  catalog: Catalog,
  contextsBucket: string,
): DockerfileChanged {
  checkChangedInput(input.image, input.hash, catalog, input.contextDigest);
  return validated(
    DockerfileChanged,
    {
      image: input.image,
      dockerfileHash: input.hash,
      ...(input.contextDigest !== undefined
        ? {contextDigest: input.contextDigest}
        : {}),
      source:
        input.source ??
        defaultSource(
          contextsBucket,
          input.image,
          input.hash,
          input.contextDigest,
        ),
      requestedBy: input.requestedBy,
      ...(input.force ? {force: true} : {}),
    },
    'dockerfile-changed message',
  );
}
