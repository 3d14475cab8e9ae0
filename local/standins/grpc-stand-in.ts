import type {grpc} from 'google-gax';
import {CallLog} from './call-log';
import {MethodFaults} from './faults';
import {
  type MethodHarness,
  type RunningServer,
  serveWithOperations,
} from './grpc-server';
import {OperationStore} from './long-running';
import type {LoadedProtos} from './proto-loading';

const OPERATIONS_SERVICE = 'google.longrunning.Operations';

/**
 * What the stand-ins share: call accounting and faults for every method, the long-running
 * operations they hand out, and one loopback gRPC server serving the API's service with
 * `google.longrunning.Operations` beside it.
 */
export abstract class GrpcStandIn<M extends string> implements MethodHarness<
  M | 'GetOperation'
> {
  readonly calls = new CallLog<M | 'GetOperation'>();
  readonly faults: MethodFaults<M | 'GetOperation'>;
  protected readonly operations = new OperationStore();
  private server?: RunningServer;

  /** `name`: how errors call it, e.g. "the Cloud Build stand-in". */
  protected constructor(
    private readonly name: string,
    faultSeed: number | undefined,
  ) {
    this.faults = new MethodFaults<M | 'GetOperation'>(faultSeed);
  }

  /** The handlers of the API's methods, each wrapped by `unary`. */
  protected abstract serviceImplementation(): grpc.UntypedServiceImplementation;

  /** Serves `service` (a fully qualified name in `protos`) on 127.0.0.1:`port` (0: any free port). */
  protected async serve(
    protos: LoadedProtos,
    service: string,
    port = 0,
  ): Promise<void> {
    this.server = await serveWithOperations(
      this,
      {
        definition: protos.service(service),
        implementation: this.serviceImplementation(),
      },
      {
        definition: protos.service(OPERATIONS_SERVICE),
        store: this.operations,
      },
      port,
    );
  }

  get port(): number {
    if (!this.server) throw new Error(`${this.name} is not running`);
    return this.server.port;
  }

  /** `127.0.0.1:PORT`, the value of the client's `*_EMULATOR_HOST` variable. */
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }
}
