import {grpc} from 'google-gax';

/** A gRPC status error, raised by stand-in handlers and sent to the client as-is. */
export class StandInError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'StandInError';
  }
}

export function notFound(message: string): StandInError {
  return new StandInError(grpc.status.NOT_FOUND, message);
}

export function alreadyExists(message: string): StandInError {
  return new StandInError(grpc.status.ALREADY_EXISTS, message);
}

export function invalidArgument(message: string): StandInError {
  return new StandInError(grpc.status.INVALID_ARGUMENT, message);
}

export function failedPrecondition(message: string): StandInError {
  return new StandInError(grpc.status.FAILED_PRECONDITION, message);
}

/** The status a thrown value is sent as: its own code for a StandInError, INTERNAL otherwise. */
export function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof StandInError) {
    return {
      code: error.code,
      details: error.message,
      metadata: new grpc.Metadata(),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: grpc.status.INTERNAL,
    details: `stand-in internal error: ${message}`,
    metadata: new grpc.Metadata(),
  };
}
