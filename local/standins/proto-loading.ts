/**
 * Loads the official `.proto` files shipped by the Google client packages, so the stand-ins speak
 * exactly the wire protocol the official clients expect.
 *
 * Two views of the same files are kept:
 * - `@grpc/proto-loader` definitions, used to serve the gRPC services and to serialize messages
 *   (e.g. to pack a `google.protobuf.Any`);
 * - a protobufjs root (the one google-gax bundles), used only to render a message in the proto3
 *   JSON mapping (what Cloud Build publishes to Pub/Sub).
 */
import {existsSync} from 'node:fs';
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import {grpc, protobuf, serializer} from 'google-gax';

/**
 * A `google.protobuf.Any` in proto-loader object form. Its field stays `type_url` even with
 * keepCase: false, because protobufjs takes the well-known types from its own bundled definitions.
 */
export interface PackedAny {
  type_url: string;
  value: Buffer;
}

/** A JSON value, as the proto3 JSON mapping produces it. */
export type JsonValue = ReturnType<typeof serializer.toProto3JSON>;

export interface LoadedProtos {
  /** The gRPC service definition of a fully qualified service name. */
  service(fullName: string): grpc.ServiceDefinition;
  /** Packs `message` (proto-loader object form) into an `Any` of type `fullName`. */
  pack(fullName: string, message: object): PackedAny;
  /** Renders `message` (proto-loader object form) in the proto3 JSON mapping. */
  toProto3Json(fullName: string, message: object): JsonValue;
}

/** Object form used on the wire: camelCase fields, enums as names, 64-bit integers as strings. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
};

function packageProtosDir(packageName: string): string {
  // Every package resolves to `<pkg>/build/src/index.js`; the protos live in `<pkg>/build/protos`.
  const entry = require.resolve(packageName);
  return path.resolve(path.dirname(entry), '..', 'protos');
}

export function artifactRegistryProtoFiles(): {
  files: string[];
  includeDirs: string[];
} {
  const own = packageProtosDir('@google-cloud/artifact-registry');
  return {
    files: [
      path.join(own, 'google/devtools/artifactregistry/v1/service.proto'),
      'google/longrunning/operations.proto',
    ],
    includeDirs: [own, packageProtosDir('google-gax')],
  };
}

export function cloudBuildProtoFiles(): {
  files: string[];
  includeDirs: string[];
} {
  const own = packageProtosDir('@google-cloud/cloudbuild');
  return {
    files: [
      path.join(own, 'google/devtools/cloudbuild/v1/cloudbuild.proto'),
      'google/longrunning/operations.proto',
    ],
    includeDirs: [own, packageProtosDir('google-gax')],
  };
}

export function resourceManagerProtoFiles(): {
  files: string[];
  includeDirs: string[];
} {
  const own = packageProtosDir('@google-cloud/resource-manager');
  return {
    files: [
      path.join(own, 'google/cloud/resourcemanager/v3/tag_bindings.proto'),
      'google/longrunning/operations.proto',
    ],
    includeDirs: [own, packageProtosDir('google-gax')],
  };
}

function isMessageType(
  definition: protoLoader.AnyDefinition | undefined,
): definition is protoLoader.MessageTypeDefinition<object, object> {
  return (
    definition !== undefined &&
    'format' in definition &&
    definition.format === 'Protocol Buffer 3 DescriptorProto'
  );
}

function isServiceDefinition(
  definition: protoLoader.AnyDefinition | undefined,
): definition is protoLoader.ServiceDefinition {
  return definition !== undefined && !('format' in definition);
}

function loadProtobufRoot(
  files: string[],
  includeDirs: string[],
): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(files, {keepCase: false});
  root.resolveAll();
  return root;
}

/** Loads one set of `.proto` files (see `artifactRegistryProtoFiles` / `cloudBuildProtoFiles`). */
export function loadProtos(source: {
  files: string[];
  includeDirs: string[];
}): LoadedProtos {
  const definition = protoLoader.loadSync(source.files, {
    ...LOADER_OPTIONS,
    includeDirs: source.includeDirs,
  });
  let jsonRoot: protobuf.Root | undefined;

  function messageType(fullName: string) {
    const type = definition[fullName];
    if (!isMessageType(type)) {
      throw new Error(`No message type ${fullName} in the loaded protos`);
    }
    return type;
  }

  return {
    service(fullName) {
      const service = definition[fullName];
      if (!isServiceDefinition(service)) {
        throw new Error(`No service ${fullName} in the loaded protos`);
      }
      return service;
    },
    pack(fullName, message) {
      return {
        type_url: `type.googleapis.com/${fullName}`,
        value: messageType(fullName).serialize(message),
      };
    },
    toProto3Json(fullName, message) {
      const bytes = messageType(fullName).serialize(message);
      jsonRoot ??= loadProtobufRoot(source.files, source.includeDirs);
      const decoded = jsonRoot.lookupType(fullName).decode(bytes);
      return serializer.toProto3JSON(decoded);
    },
  };
}

let artifactRegistryProtos: LoadedProtos | undefined;
let cloudBuildProtos: LoadedProtos | undefined;
let resourceManagerProtos: LoadedProtos | undefined;

/** Artifact Registry v1 + google.longrunning, loaded once per process. */
export function loadArtifactRegistryProtos(): LoadedProtos {
  artifactRegistryProtos ??= loadProtos(artifactRegistryProtoFiles());
  return artifactRegistryProtos;
}

/** Cloud Build v1 + google.longrunning, loaded once per process. */
export function loadCloudBuildProtos(): LoadedProtos {
  cloudBuildProtos ??= loadProtos(cloudBuildProtoFiles());
  return cloudBuildProtos;
}

/** Resource Manager v3 TagBindings + google.longrunning, loaded once per process. */
export function loadResourceManagerProtos(): LoadedProtos {
  resourceManagerProtos ??= loadProtos(resourceManagerProtoFiles());
  return resourceManagerProtos;
}
