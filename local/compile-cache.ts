/**
 * Imported first by the processes a user starts over and over on one machine (`arr`, the local
 * stack and its function hosts): Node.js's module compile cache keeps the bytecode of the ~535
 * modules each loads (the Google Cloud clients, gRPC, protobufs) in the OS temp folder, so the
 * next start compiles none of them (`arr --help`: about 0.35 s instead of 0.43 s, measured here).
 * Not imported by the deployed functions: a new Cloud Run instance starts with an empty /tmp.
 */
import {enableCompileCache} from 'node:module';

enableCompileCache?.();
