/**
 * `google.longrunning.Operation` bookkeeping and the `google.longrunning.Operations` service
 * (GetOperation) that the official clients' `operation.promise()` polls.
 */
import {grpc} from 'google-gax';
import {notFound} from './grpc-errors';
import type {PackedAny} from './proto-loading';

/** An Operation in proto-loader object form. Exactly one of `response`/`error` once `done`. */
export interface WireOperation {
  name: string;
  metadata?: PackedAny;
  done: boolean;
  response?: PackedAny;
  error?: {code: grpc.status; message: string; details: PackedAny[]};
}

/** Operations by name; an operation may be replaced as it progresses (e.g. a build finishing). */
export class OperationStore {
  private readonly operations = new Map<string, WireOperation>();

  put(operation: WireOperation): WireOperation {
    this.operations.set(operation.name, operation);
    return operation;
  }

  get(name: string): WireOperation {
    const operation = this.operations.get(name);
    if (!operation) throw notFound(`Operation ${name} not found.`);
    return operation;
  }

  clear(): void {
    this.operations.clear();
  }
}
