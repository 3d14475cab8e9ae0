import {grpc} from 'google-gax';
import type {CallLog} from './call-log';
import type {MethodFaults} from './faults';
import {toServiceError} from './grpc-errors';
import type {OperationStore} from './long-running';
import {asProtoObject, stringField, type ProtoObject} from './request-fields';

export type UnaryHandler = (request: ProtoObject) => object | Promise<object>;

/** What every served method goes through: accounting, then faults around the handler. */
export interface MethodHarness<M extends string> {
  calls: CallLog<M>;
  faults: MethodFaults<M>;
}

/** Wraps a handler as a grpc-js unary handler that records the call and applies injected faults. */
export function unary<M extends string>(
  harness: MethodHarness<M>,
  method: M,
  handler: UnaryHandler,
): grpc.handleUnaryCall<unknown, object> {
  return (call, callback) => {
    const run = async () => {
      const request = asProtoObject(call.request, `${method} request`);
      harness.calls.record(method, request);
      return harness.faults.call(method, () => handler(request));
    };
    run().then(
      response => callback(null, response),
      error => callback(toServiceError(error)),
    );
  };
}

export interface ServedService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface RunningServer {
  /** The loopback port the server listens on. */
  port: number;
  stop(): Promise<void>;
}

/** Serves `services` on 127.0.0.1:`port` (0 picks a free port), without TLS. */
export async function startGrpcServer(
  services: ServedService[],
  port: number,
): Promise<RunningServer> {
  const server = new grpc.Server();
  for (const service of services)
    server.addService(service.definition, service.implementation);
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `127.0.0.1:${port}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    );
  });
  return {
    port: boundPort,
    stop: () =>
      new Promise<void>(resolve => {
        // Give in-flight calls a moment, then drop whatever is left (idle client channels).
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/**
 * Serves an API's service and, beside it, `google.longrunning.Operations` (GetOperation,
 * from `operations`), which the clients poll for every long-running method. Calls to both
 * go through the stand-in's accounting and faults.
 */
export function serveWithOperations<M extends string>(
  harness: MethodHarness<M | 'GetOperation'>,
  service: ServedService,
  operations: {
    definition: grpc.ServiceDefinition;
    store: Pick<OperationStore, 'get'>;
  },
  port: number,
): Promise<RunningServer> {
  return startGrpcServer(
    [
      service,
      {
        definition: operations.definition,
        implementation: {
          GetOperation: unary(harness, 'GetOperation', request =>
            operations.store.get(stringField(request, 'name')),
          ),
        },
      },
    ],
    port,
  );
}
