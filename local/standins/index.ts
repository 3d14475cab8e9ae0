/** Local stand-ins for Artifact Registry, Cloud Build, Resource Manager tag bindings and Cloud Storage (no Google emulator runs offline for any). */
export * from './artifact-registry-standin';
export * from './artifact-store';
export * from './build-notifications';
export * from './build-status';
export * from './call-log';
export * from './cloud-build-standin';
export * from './cloud-storage-standin';
export {FILTER_FIELDS as BUILD_FILTER_FIELDS} from './build-filter';
export * from './faults';
export {StandInError} from './grpc-errors';
export * from './object-store';
export * from './resource-names';
export * from './start-standins';
export * from './tag-binding-store';
export * from './tag-bindings-standin';
