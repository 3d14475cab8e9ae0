/**
 * Build contexts in Cloud Storage, in the domain's words: the object a cache key names
 * (`contexts/<image>/<hash>[-<context digest>].tar.gz`, as the Dockerfile trigger names it:
 * cloudbuild/dockerfile-changed.yaml), and an upload that writes it only when it is absent.
 *
 * The name is content-addressed, so an object already there holds the same context: the
 * write carries `ifGenerationMatch=0` (the service refuses it with 412 when a live object
 * exists), never a look first, which would race a trigger uploading the same name. The
 * precondition also makes the upload safe to repeat: after a transient failure (its answer
 * perhaps lost after the write) it is sent again here, and a 412 then means it was written.
 * This is the one place it is retried (shared/clients.ts turns the client's own retry off).
 */
import type {Storage} from '@google-cloud/storage';
import {isTransient, TransientError} from './errors';
import {STORAGE_SOURCE_PATTERN} from './messages';
import {DEFAULT_RETRY_POLICY, type RetryPolicy, withRetry} from './retry';

export interface StorageObject {
  bucket: string;
  name: string;
}

/** The object name the trigger gives a context: `<hash>`, or `<hash>-<context digest>` when the key covers it. */
export function contextObjectName(
  image: string,
  dockerfileHash: string,
  contextDigest?: string,
): string {
  const key =
    contextDigest === undefined
      ? dockerfileHash
      : `${dockerfileHash}-${contextDigest}`;
  return `contexts/${image}/${key}.tar.gz`;
}

export function storageUri(object: StorageObject): string {
  return `gs://${object.bucket}/${object.name}`;
}

/** The object a `gs://` source names; undefined for any other source (a git revision). */
export function parseStorageUri(uri: string): StorageObject | undefined {
  const match = STORAGE_SOURCE_PATTERN.exec(uri);
  return match ? {bucket: match[1], name: match[2]} : undefined;
}

export type UploadOutcome =
  | {kind: 'uploaded'; generation: string; bytes: number}
  | {kind: 'already-there'};

/** An upload that did not happen; `message` says why and what to do. */
export class ContextUploadError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'ContextUploadError';
  }
}

/** The README section that says who needs which role on the bucket. */
const ACCESS_SECTION = 'README "Who may run arr changed --from"';

/** The JSON API's transient answers (Cloud Storage's retry strategy page lists these). */
const TRANSIENT_HTTP: ReadonlySet<number> = new Set([
  408, 429, 500, 502, 503, 504,
]);

/** The HTTP status of a Cloud Storage client error (or of the error a retry wrapped). */
function httpStatus(error: unknown): number | undefined {
  const failure = error instanceof TransientError ? error.cause : error;
  const code = (failure as {code?: unknown} | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Writes `bytes` as `object` unless a live object has that name. */
export async function uploadContextArchive(
  storage: Storage,
  object: StorageObject,
  bytes: Buffer,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<UploadOutcome> {
  const file = storage.bucket(object.bucket).file(object.name);
  const saveOnce = async (): Promise<UploadOutcome> => {
    try {
      await file.save(bytes, {
        // One request: a context is small, and the stand-in serves multipart uploads only.
        resumable: false,
        contentType: 'application/gzip',
        preconditionOpts: {ifGenerationMatch: 0},
      });
    } catch (error) {
      const status = httpStatus(error);
      if (status === 412) return {kind: 'already-there'};
      // Replacing an object also needs storage.objects.delete, and Cloud Storage asks for it
      // only when an object of that name exists (IAM permissions for JSON methods): a caller
      // with Storage Object Creator alone may be told that rather than 412. Either way the
      // object is there, and this write would never have replaced it.
      if (status === 403 && /storage\.objects\.delete/.test(String(error))) {
        return {kind: 'already-there'};
      }
      const transient =
        status === undefined ? isTransient(error) : TRANSIENT_HTTP.has(status);
      if (transient) {
        throw new TransientError((error as Error).message, {cause: error});
      }
      throw error;
    }
    return {
      kind: 'uploaded',
      generation: String(file.metadata.generation ?? ''),
      bytes: bytes.length,
    };
  };
  try {
    return await withRetry(saveOnce, policy);
  } catch (error) {
    const status = httpStatus(error);
    const uri = storageUri(object);
    const detail = (error as Error).message;
    if (status === 404) {
      throw new ContextUploadError(
        `Could not upload the build context to ${uri}: bucket gs://${object.bucket} does not exist (${detail}). ` +
          'Deploy makes it (npm run deploy); if deploy was given --bucket, set CONTEXTS_BUCKET to that name.',
        status,
      );
    }
    if (status === 401 || status === 403) {
      throw new ContextUploadError(
        `Could not upload the build context to ${uri}: permission denied (${detail}). ` +
          `The upload needs storage.objects.create on gs://${object.bucket}: ask for roles/storage.objectCreator on the bucket (${ACCESS_SECTION}).`,
        status,
      );
    }
    throw new ContextUploadError(
      `Could not upload the build context to ${uri}: ${detail}`,
      status,
    );
  }
}
