/**
 * A local Cloud Storage JSON API (the part `@google-cloud/storage` calls for the build
 * contexts) over HTTP on 127.0.0.1. Google ships no offline Cloud Storage emulator: the one
 * in firebase-tools downloads its rules runtime at start, creates any bucket a request
 * names, and ignores `ifGenerationMatch` on uploads, so neither a missing bucket nor the
 * precondition the upload relies on could be seen through it.
 *
 * Served (with or without the `/storage/v1` prefix, since the client drops it when it is
 * pointed here by STORAGE_EMULATOR_HOST):
 * - objects.insert: `POST /upload/storage/v1/b/B/o?uploadType=multipart|media&name=N`,
 *   `ifGenerationMatch` honoured (412 conditionNotMet);
 * - objects.get: `GET /b/B/o/N` (the resource; `alt=media`: the bytes);
 * - objects.list: `GET /b/B/o?prefix=&maxResults=&pageToken=`.
 * Anything else is 501 with a message that says what is served.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type {AddressInfo} from 'node:net';
import {grpc} from 'google-gax';
import {CallLog} from './call-log';
import {MethodFaults} from './faults';
import {StandInError} from './grpc-errors';
import {ObjectStore, ObjectStoreError, type StoredObject} from './object-store';
import {paginate} from './pagination';

export const CloudStorageMethod = [
  'objects.insert',
  'objects.get',
  'objects.list',
] as const;
export type CloudStorageMethod = (typeof CloudStorageMethod)[number];

export interface CloudStorageStandInOptions {
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  faultSeed?: number;
  /** Buckets that exist, made at start and again after `reset()` (deploy makes them in a project). */
  buckets?: readonly string[];
}

/** What the JSON API answers with: an HTTP status and its `error.errors[0].reason`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** google.rpc.Code → HTTP, as google/rpc/code.proto maps them (for injected faults). */
const HTTP_STATUS: Partial<Record<grpc.status, [number, string]>> = {
  [grpc.status.INVALID_ARGUMENT]: [400, 'invalid'],
  [grpc.status.FAILED_PRECONDITION]: [412, 'conditionNotMet'],
  [grpc.status.OUT_OF_RANGE]: [400, 'invalid'],
  [grpc.status.UNAUTHENTICATED]: [401, 'required'],
  [grpc.status.PERMISSION_DENIED]: [403, 'forbidden'],
  [grpc.status.NOT_FOUND]: [404, 'notFound'],
  [grpc.status.ABORTED]: [409, 'conflict'],
  [grpc.status.ALREADY_EXISTS]: [409, 'conflict'],
  [grpc.status.RESOURCE_EXHAUSTED]: [429, 'rateLimitExceeded'],
  [grpc.status.CANCELLED]: [499, 'cancelled'],
  [grpc.status.UNIMPLEMENTED]: [501, 'notImplemented'],
  [grpc.status.UNAVAILABLE]: [503, 'backendError'],
  [grpc.status.DEADLINE_EXCEEDED]: [504, 'deadlineExceeded'],
};

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ObjectStoreError) {
    if (error.kind === 'precondition') {
      return new HttpError(412, 'conditionNotMet', error.message);
    }
    return new HttpError(404, 'notFound', error.message);
  }
  if (error instanceof StandInError) {
    const [status, reason] = HTTP_STATUS[error.code] ?? [500, 'backendError'];
    return new HttpError(status, reason, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError(
    500,
    'backendError',
    `stand-in internal error: ${message}`,
  );
}

/** The JSON API's object resource. */
function objectResource(o: StoredObject): Record<string, string> {
  const id = `${o.bucket}/${o.name}/${o.generation}`;
  return {
    kind: 'storage#object',
    id,
    name: o.name,
    bucket: o.bucket,
    generation: o.generation,
    metageneration: o.metageneration,
    contentType: o.contentType,
    size: String(o.bytes.length),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    storageClass: 'STANDARD',
    timeCreated: o.timeCreated.toISOString(),
    updated: o.timeCreated.toISOString(),
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface UploadedParts {
  metadata: Record<string, unknown>;
  media: Buffer;
  mediaType: string;
}

/** A `multipart/related` body (RFC 2387): the metadata part (JSON), then the media part. */
export function parseMultipartRelated(
  contentType: string,
  body: Buffer,
): UploadedParts {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!/^multipart\/related/i.test(contentType) || !boundary) {
    throw new HttpError(
      400,
      'invalid',
      'uploadType=multipart needs a multipart/related body with a boundary',
    );
  }
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{headers: string; content: Buffer}> = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    // Each part: CRLF, headers, CRLF CRLF, content, CRLF, then the next delimiter.
    const part = body.subarray(start + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    if (split === -1) {
      throw new HttpError(400, 'invalid', 'a multipart part has no headers');
    }
    parts.push({
      headers: part.subarray(0, split).toString('latin1'),
      content: part.subarray(split + 4),
    });
    at = next;
  }
  if (parts.length !== 2) {
    throw new HttpError(
      400,
      'invalid',
      `a multipart upload has two parts (metadata, media); this one has ${parts.length}`,
    );
  }
  let metadata: unknown;
  try {
    metadata = JSON.parse(parts[0].content.toString('utf8'));
  } catch {
    throw new HttpError(400, 'parseError', 'the metadata part is not JSON');
  }
  if (typeof metadata !== 'object' || metadata === null) {
    throw new HttpError(400, 'invalid', 'the metadata part is not an object');
  }
  const mediaType =
    /^content-type:\s*(.+)$/im.exec(parts[1].headers)?.[1].trim() ??
    'application/octet-stream';
  return {
    metadata: metadata as Record<string, unknown>,
    media: parts[1].content,
    mediaType,
  };
}

const PREFIXES = ['/storage/v1', '/download/storage/v1', ''];

/** The route a path names, without the API prefix the client may or may not send. */
function route(
  pathname: string,
):
  | {kind: 'upload'; bucket: string}
  | {kind: 'object'; bucket: string; name: string}
  | {kind: 'list'; bucket: string}
  | undefined {
  const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(pathname);
  if (upload) return {kind: 'upload', bucket: decodeURIComponent(upload[1])};
  for (const prefix of PREFIXES) {
    if (!pathname.startsWith(`${prefix}/b/`)) continue;
    const rest = pathname.slice(prefix.length);
    const object = /^\/b\/([^/]+)\/o\/(.+)$/.exec(rest);
    if (object) {
      return {
        kind: 'object',
        bucket: decodeURIComponent(object[1]),
        name: decodeURIComponent(object[2]),
      };
    }
    const list = /^\/b\/([^/]+)\/o\/?$/.exec(rest);
    if (list) return {kind: 'list', bucket: decodeURIComponent(list[1])};
  }
  return undefined;
}

export class CloudStorageStandIn {
  readonly store = new ObjectStore();
  readonly calls = new CallLog<CloudStorageMethod>();
  readonly faults: MethodFaults<CloudStorageMethod>;
  private server?: Server;

  private constructor(private readonly options: CloudStorageStandInOptions) {
    this.faults = new MethodFaults<CloudStorageMethod>(options.faultSeed);
    this.seedBuckets();
  }

  static async start(
    options: CloudStorageStandInOptions = {},
  ): Promise<CloudStorageStandIn> {
    const standIn = new CloudStorageStandIn(options);
    const server = createServer((request, response) => {
      void standIn.handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    standIn.server = server;
    return standIn;
  }

  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the Cloud Storage stand-in is not running');
    return address.port;
  }

  /** `127.0.0.1:PORT`; STORAGE_EMULATOR_HOST is `http://` and this (standInEnvironment). */
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A bucket, bypassing accounting (deploy makes the contexts bucket in a project). */
  seedBucket(name: string): void {
    this.store.createBucket(name);
  }

  /** The bytes of a live object, or undefined: what a build's `storageSource` unpacks. */
  readObject(bucket: string, name: string): Buffer | undefined {
    return this.store.readObject(bucket, name);
  }

  /** Clears objects, faults and calls; the buckets given at start exist again. */
  reset(): void {
    this.store.clear();
    this.seedBuckets();
    this.faults.reset();
    this.calls.clear();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>(resolve => server.close(() => resolve()));
  }

  private seedBuckets(): void {
    for (const bucket of this.options.buckets ?? []) {
      this.store.createBucket(bucket);
    }
  }

  private async handle(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const query = url.searchParams;
    try {
      const body = await readBody(request);
      const target = route(url.pathname);
      if (target?.kind === 'upload' && request.method === 'POST') {
        const uploaded = await this.act('objects.insert', query, () =>
          this.insert(
            target.bucket,
            query,
            request.headers['content-type'] ?? '',
            body,
          ),
        );
        return sendJson(response, 200, objectResource(uploaded));
      }
      if (target?.kind === 'object' && request.method === 'GET') {
        const found = await this.act('objects.get', query, () =>
          this.store.get(target.bucket, target.name),
        );
        if (query.get('alt') === 'media') {
          response.writeHead(200, {
            'content-type': found.contentType,
            'content-length': found.bytes.length,
            'x-goog-generation': found.generation,
            'x-goog-hash': `crc32c=${found.crc32c},md5=${found.md5Hash}`,
          });
          response.end(found.bytes);
          return;
        }
        return sendJson(response, 200, objectResource(found));
      }
      if (target?.kind === 'list' && request.method === 'GET') {
        const page = await this.act('objects.list', query, () =>
          this.list(target.bucket, query),
        );
        return sendJson(response, 200, {
          kind: 'storage#objects',
          items: page.items.map(objectResource),
          ...(page.nextPageToken ? {nextPageToken: page.nextPageToken} : {}),
        });
      }
      throw new HttpError(
        501,
        'notImplemented',
        `${request.method} ${url.pathname} is not served by the Cloud Storage stand-in ` +
          '(served: objects.insert with uploadType=multipart or media, objects.get, objects.list)',
      );
    } catch (error) {
      const http = toHttpError(error);
      sendJson(response, http.status, {
        error: {
          code: http.status,
          message: http.message,
          errors: [
            {message: http.message, domain: 'global', reason: http.reason},
          ],
        },
      });
    }
  }

  private act<T>(
    method: CloudStorageMethod,
    query: URLSearchParams,
    work: () => T,
  ): Promise<T> {
    this.calls.record(method, Object.fromEntries(query));
    return this.faults.call(method, work);
  }

  private insert(
    bucket: string,
    query: URLSearchParams,
    contentType: string,
    body: Buffer,
  ): StoredObject {
    const uploadType = query.get('uploadType') ?? 'media';
    let name = query.get('name') ?? undefined;
    let media = body;
    let mediaType = contentType || 'application/octet-stream';
    if (uploadType === 'multipart') {
      const parts = parseMultipartRelated(contentType, body);
      if (name === undefined && typeof parts.metadata.name === 'string') {
        name = parts.metadata.name;
      }
      media = parts.media;
      mediaType =
        typeof parts.metadata.contentType === 'string'
          ? parts.metadata.contentType
          : parts.mediaType;
    } else if (uploadType !== 'media') {
      throw new HttpError(
        501,
        'notImplemented',
        `uploadType=${uploadType} is not served by the Cloud Storage stand-in (multipart and media are; upload with resumable: false)`,
      );
    }
    if (!name) {
      throw new HttpError(400, 'required', 'Required parameter: name');
    }
    const generation = query.get('ifGenerationMatch') ?? undefined;
    if (generation !== undefined && !/^\d+$/.test(generation)) {
      throw new HttpError(
        400,
        'invalid',
        `Invalid value for ifGenerationMatch: ${generation}`,
      );
    }
    return this.store.insert(bucket, name, media, mediaType, {
      ifGenerationMatch: generation,
    });
  }

  private list(bucket: string, query: URLSearchParams) {
    const maxResults = Number(query.get('maxResults') ?? '1000');
    if (!Number.isInteger(maxResults) || maxResults < 1) {
      throw new HttpError(
        400,
        'invalid',
        'maxResults must be a positive integer',
      );
    }
    // A page token from another listing is INVALID_ARGUMENT: 400, as the real API answers.
    return paginate(
      this.store.list(bucket, query.get('prefix') ?? ''),
      {pageSize: maxResults, pageToken: query.get('pageToken') ?? ''},
      `${bucket}/${query.get('prefix') ?? ''}`,
    );
  }
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
