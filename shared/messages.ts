/**
 * The event contracts as schemas. Message data is UTF-8 JSON; unknown keys
 * are rejected, so a field no code reads (a `repository` on a teardown, say) is refused
 * instead of silently ignored.
 */
import {z} from 'zod';
import {README_CONTEXT_DIGEST} from './readme-links';

const requestedBy = z
  .string({error: 'must be a string naming who asked'})
  .min(1, {error: 'must not be empty'})
  .max(200, {error: 'must be at most 200 characters'});

const flag = z.boolean({error: 'must be true or false'});

export const SetupRequest = z.strictObject({
  requestedBy: requestedBy.optional(),
  dryRun: flag.optional(),
});
export type SetupRequest = z.infer<typeof SetupRequest>;

export const DOCKERFILE_HASH_PATTERN = /^[0-9a-f]{12}$/;

// A tarball in Cloud Storage, or a git repository at a revision (`git+https://…#<rev>`).
export const STORAGE_SOURCE_PATTERN =
  /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])\/(.+)$/;
export const GIT_SOURCE_PATTERN =
  /^git\+(https:\/\/[^#\s]+)#([0-9A-Za-z._/-]+)$/;

export const DockerfileChanged = z.strictObject({
  image: z
    .string({error: 'must be a catalog image name'})
    .min(1, {error: 'must not be empty'})
    .max(128, {error: 'must be at most 128 characters (a catalog image name)'}),
  dockerfileHash: z
    .string({error: 'must be a string'})
    .regex(DOCKERFILE_HASH_PATTERN, {
      error:
        'must be 12 lowercase hex characters (the first 12 of `sha256sum Dockerfile`)',
    }),
  contextDigest: z
    .string({error: 'must be a string'})
    .regex(DOCKERFILE_HASH_PATTERN, {
      error: `must be 12 lowercase hex characters (the context digest: arr changed IMAGE --from DIR computes it; ${README_CONTEXT_DIGEST})`,
    })
    .optional(),
  source: z
    .string({error: 'must be a string'})
    .max(2048, {error: 'must be at most 2048 characters'})
    .refine(s => STORAGE_SOURCE_PATTERN.test(s) || GIT_SOURCE_PATTERN.test(s), {
      error:
        'must be gs://BUCKET/OBJECT (a build-context tarball) or git+https://HOST/REPO#REVISION',
    }),
  requestedBy: requestedBy.optional(),
  force: flag.optional(),
});
export type DockerfileChanged = z.infer<typeof DockerfileChanged>;

export const TeardownRequest = z.strictObject({
  // A repository id has at most 63 characters; anything longer cannot confirm.
  confirm: z
    .string({error: 'must be the ephemeral repository id, as a string'})
    .max(63, {
      error: 'must be the ephemeral repository id (at most 63 characters)',
    })
    .optional(),
  dryRun: flag.optional(),
  skipImages: flag.optional(),
  requestedBy: requestedBy.optional(),
});
export type TeardownRequest = z.infer<typeof TeardownRequest>;

/** Cloud Build's terminal statuses other than SUCCESS. */
export const FAILED_BUILD_STATUS_NAMES = [
  'FAILURE',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'CANCELLED',
  'EXPIRED',
] as const;

export const TERMINAL_BUILD_STATUS_NAMES = [
  'SUCCESS',
  ...FAILED_BUILD_STATUS_NAMES,
] as const;
export type TerminalBuildStatus = (typeof TERMINAL_BUILD_STATUS_NAMES)[number];

/** `google.devtools.cloudbuild.v1.Build.Status` names, as Cloud Build's JSON writes them. */
export const BuildStatus = [
  'STATUS_UNKNOWN',
  'PENDING',
  'QUEUED',
  'WORKING',
  ...TERMINAL_BUILD_STATUS_NAMES,
] as const;
export type BuildStatus = (typeof BuildStatus)[number];

/** The one "has this build ended" test, for any status string (or none yet). */
export function isTerminalBuildStatus(
  status: string | undefined,
): status is TerminalBuildStatus {
  return TERMINAL_BUILD_STATUS_NAMES.some(terminal => terminal === status);
}

/**
 * A notification's data as Cloud Build writes it (the Build resource as JSON), in the
 * fields this project compares with Cloud Build's own answer (shared/build-notification.ts);
 * nothing is acted on from it. Cloud Build adds fields over time, so unknown keys pass
 * here: it is not our contract.
 */
export const BuildNotification = z.looseObject({
  id: z.string().min(1),
  projectId: z.string().optional(),
  status: z.enum(BuildStatus),
  tags: z.array(z.string()).optional(),
  substitutions: z.record(z.string(), z.string()).optional(),
  images: z.array(z.string()).optional(),
  results: z
    .looseObject({
      images: z
        .array(z.looseObject({name: z.string(), digest: z.string().optional()}))
        .optional(),
    })
    .optional(),
  logUrl: z.string().optional(),
  statusDetail: z.string().optional(),
  failureInfo: z
    .looseObject({type: z.string().optional(), detail: z.string().optional()})
    .optional(),
  createTime: z.string().optional(),
  startTime: z.string().optional(),
  finishTime: z.string().optional(),
});
export type BuildNotification = z.infer<typeof BuildNotification>;
