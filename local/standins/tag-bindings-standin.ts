/**
 * A local Resource Manager TagBindings service (google.cloud.resourcemanager.v3.TagBindings)
 * served over gRPC, for the official `@google-cloud/resource-manager` TagBindingsClient.
 * Resource Manager has no emulator; the control plane binds the `arr-lifecycle` tag on the
 * repositories it creates, so the local stack and the tests need this one.
 */
import {randomUUID} from 'node:crypto';
import {unary} from './grpc-server';
import {GrpcStandIn} from './grpc-stand-in';
import type {WireOperation} from './long-running';
import {pageRequest, paginate} from './pagination';
import {loadResourceManagerProtos} from './proto-loading';
import {
  booleanField,
  messageField,
  type ProtoObject,
  stringField,
} from './request-fields';
import {
  type EffectiveTagValue,
  type ResourceIncarnation,
  type StoredTagBinding,
  TagBindingStore,
  validateFullResourceName,
} from './tag-binding-store';

/** The methods served (plus `google.longrunning.Operations/GetOperation`). */
export const TagBindingsMethod = [
  'CreateTagBinding',
  'DeleteTagBinding',
  'ListTagBindings',
  'ListEffectiveTags',
  'GetOperation',
] as const;
export type TagBindingsMethod = (typeof TagBindingsMethod)[number];

const SERVICE = 'google.cloud.resourcemanager.v3.TagBindings';
const TAG_BINDING_TYPE = 'google.cloud.resourcemanager.v3.TagBinding';
const CREATE_METADATA_TYPE =
  'google.cloud.resourcemanager.v3.CreateTagBindingMetadata';
const DELETE_METADATA_TYPE =
  'google.cloud.resourcemanager.v3.DeleteTagBindingMetadata';
const EMPTY_TYPE = 'google.protobuf.Empty';

export interface TagBindingsStandInOptions {
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  /** Seed of the generator used by probabilistic faults. */
  faultSeed?: number;
  /** Tag values that exist (`P/key/value`), defined at start and again after `reset()`. */
  tagValues?: readonly string[];
  /** Which incarnation of a bound resource exists, if any (e.g. asks the Artifact Registry stand-in). */
  resourceIncarnation?: ResourceIncarnation;
}

export interface EffectiveTagView {
  namespacedTagValue: string;
  namespacedTagKey: string;
  inherited: boolean;
}

function bindingToWire(binding: StoredTagBinding): object {
  return {
    name: binding.name,
    parent: binding.parent,
    tagValue: binding.value.id,
    tagValueNamespacedName: binding.value.namespacedName,
  };
}

function effectiveToWire(e: EffectiveTagValue): object {
  return {
    tagValue: e.value.id,
    namespacedTagValue: e.value.namespacedName,
    tagKey: e.value.keyId,
    namespacedTagKey: e.value.namespacedKey,
    tagKeyParentName: e.value.keyParent,
    inherited: e.inherited,
  };
}

export class TagBindingsStandIn extends GrpcStandIn<TagBindingsMethod> {
  readonly store: TagBindingStore;
  private readonly protos = loadResourceManagerProtos();
  private readonly tagValues: readonly string[];

  private constructor(options: TagBindingsStandInOptions) {
    super('the TagBindings stand-in', options.faultSeed);
    this.store = new TagBindingStore(options.resourceIncarnation);
    this.tagValues = options.tagValues ?? [];
    this.defineTagValues();
  }

  /** Starts serving on 127.0.0.1. */
  static async start(
    options: TagBindingsStandInOptions = {},
  ): Promise<TagBindingsStandIn> {
    const standIn = new TagBindingsStandIn(options);
    await standIn.serve(standIn.protos, SERVICE, options.port);
    return standIn;
  }

  /** Clears bindings, operations, faults and call counts; the start's tag values stay defined. */
  reset(): void {
    this.store.clear();
    this.defineTagValues();
    this.operations.clear();
    this.faults.reset();
    this.calls.clear();
  }

  // --- seeding and reading (bypass accounting and faults) --------------------------------------

  /** Defines a tag value `P/key/value` (and its key). */
  defineTagValue(namespacedName: string): void {
    this.store.defineValue(namespacedName);
  }

  /** Binds `P/key/value` to the resource `fullResourceName`, as a tag user would. */
  seedBinding(fullResourceName: string, namespacedValue: string): void {
    this.store.bind(fullResourceName, this.store.defineValue(namespacedValue));
  }

  /** The tags in effect on a resource, direct or inherited. */
  effectiveTags(fullResourceName: string): EffectiveTagView[] {
    return this.store.effective(fullResourceName).map(e => ({
      namespacedTagValue: e.value.namespacedName,
      namespacedTagKey: e.value.namespacedKey,
      inherited: e.inherited,
    }));
  }

  // --- gRPC handlers --------------------------------------------------------------------------

  protected serviceImplementation() {
    const store = this.store;
    const call = (
      method: TagBindingsMethod,
      handler: (request: ProtoObject) => object,
    ) => unary(this, method, handler);
    return {
      CreateTagBinding: call('CreateTagBinding', request => {
        const wire = messageField(request, 'tagBinding') ?? {};
        const value = store.resolveValue(
          stringField(wire, 'tagValue'),
          stringField(wire, 'tagValueNamespacedName'),
        );
        const binding = store.bind(
          stringField(wire, 'parent'),
          value,
          booleanField(request, 'validateOnly'),
        );
        return this.doneOperation(
          CREATE_METADATA_TYPE,
          TAG_BINDING_TYPE,
          bindingToWire(binding),
        );
      }),
      DeleteTagBinding: call('DeleteTagBinding', request => {
        store.unbind(stringField(request, 'name'));
        return this.doneOperation(DELETE_METADATA_TYPE, EMPTY_TYPE, {});
      }),
      ListTagBindings: call('ListTagBindings', request => {
        const parent = validateFullResourceName(
          stringField(request, 'parent'),
          'parent',
        );
        const page = paginate(
          store.direct(parent),
          pageRequest(request),
          `tagBindings:${parent}`,
        );
        return {
          tagBindings: page.items.map(bindingToWire),
          nextPageToken: page.nextPageToken,
        };
      }),
      ListEffectiveTags: call('ListEffectiveTags', request => {
        const parent = validateFullResourceName(
          stringField(request, 'parent'),
          'parent',
        );
        const page = paginate(
          store.effective(parent),
          pageRequest(request),
          `effectiveTags:${parent}`,
        );
        return {
          effectiveTags: page.items.map(effectiveToWire),
          nextPageToken: page.nextPageToken,
        };
      }),
    };
  }

  private defineTagValues(): void {
    for (const value of this.tagValues) this.store.defineValue(value);
  }

  /** A finished operation, kept for GetOperation. */
  private doneOperation(
    metadataType: string,
    responseType: string,
    response: object,
  ): WireOperation {
    return this.operations.put({
      name: `operations/rctb.${randomUUID()}`,
      metadata: this.protos.pack(metadataType, {}),
      done: true,
      response: this.protos.pack(responseType, response),
    });
  }
}
