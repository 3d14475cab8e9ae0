/**
 * The error policy as code: what is worth retrying, what ends a run,
 * and what counts as success because another worker got there first.
 */
import {grpc} from 'google-gax';

export const GrpcStatus = grpc.status;

export const ErrorKind = [
  'transient',
  'permanent',
  'already-exists',
  'not-found',
] as const;
export type ErrorKind = (typeof ErrorKind)[number];

const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.CANCELLED,
]);

// Network-level failures that never reached the service.
const TRANSIENT_NODE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

/** The gRPC status code carried by an error from a Google client, if any. */
export function grpcCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as {code?: unknown}).code;
  return typeof code === 'number' ? code : undefined;
}

export function grpcCodeName(code: number): string {
  return (
    (GrpcStatus as unknown as Record<number, string>)[code] ?? `code ${code}`
  );
}

export function classifyError(error: unknown): ErrorKind {
  if (error instanceof PermanentError) return 'permanent';
  if (error instanceof TransientError) return 'transient';
  const code = grpcCode(error);
  if (code === GrpcStatus.ALREADY_EXISTS) return 'already-exists';
  if (code === GrpcStatus.NOT_FOUND) return 'not-found';
  if (code !== undefined)
    return TRANSIENT_CODES.has(code) ? 'transient' : 'permanent';
  const nodeCode = (error as {code?: unknown} | null)?.code;
  if (typeof nodeCode === 'string' && TRANSIENT_NODE_CODES.has(nodeCode)) {
    return 'transient';
  }
  return 'permanent';
}

export function isTransient(error: unknown): boolean {
  return classifyError(error) === 'transient';
}

/** A failure that retrying cannot fix: the run is recorded as failed and the event acknowledged. */
export class PermanentError extends Error {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** A failure worth another delivery: thrown out of the handler so Pub/Sub redelivers. */
export class TransientError extends Error {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/**
 * A call that is not safe to repeat (CreateBuild) failed transiently: the service may have
 * acted on it, its answer lost on the way back, or not. Never answered by sending it again:
 * look first. Transient, so if it propagates, Pub/Sub redelivers.
 */
export class OutcomeUnknownError extends TransientError {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'OutcomeUnknownError';
  }
}

/** A short, operator-readable reason: the gRPC status name and the service's own message. */
export function describeError(error: unknown): string {
  const code = grpcCode(error);
  const message =
    error instanceof Error
      ? (error as {details?: unknown}).details || error.message
      : String(error);
  const text = String(message).replace(/^\d+ [A-Z_]+: /, '');
  return code === undefined ? text : `${grpcCodeName(code)}: ${text}`;
}

/**
 * What an operator has to grant or enable when a call is refused. The gRPC status alone
 * doesn't say which permission is missing; the call does.
 */
export function explainPermanentFailure(
  error: unknown,
  permission: string,
): string {
  const code = grpcCode(error);
  if (code === GrpcStatus.PERMISSION_DENIED) {
    return `${describeError(error)} — the function's service account needs the permission ${permission} (and the API must be enabled)`;
  }
  if (code === GrpcStatus.UNAUTHENTICATED) {
    return `${describeError(error)} — no valid credentials; check the function's service account`;
  }
  if (code === GrpcStatus.FAILED_PRECONDITION) {
    return `${describeError(error)} — the API may be disabled or the resource in an unexpected state`;
  }
  return describeError(error);
}
