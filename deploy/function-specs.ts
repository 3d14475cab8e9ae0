/**
 * The four functions as deploy sees them: name, entry point, trigger topic,
 * identity and scale. Names and entry points are fixed by the functions'
 * registration in `functions/index.ts`.
 */
import {DeployOptions} from './options';

export const FUNCTION_NAMES = [
  'setup-requested',
  'dockerfile-changed',
  'build-finished',
  'teardown-requested',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export interface FunctionSpec {
  name: FunctionName;
  entryPoint: string;
  /** Service account id (the part before @). */
  serviceAccountId: string;
  topic: (o: DeployOptions) => string;
  maxInstances: number;
  /** Shell-safe upper-case stem for the run-time variables of this function. */
  variableStem: string;
}

export const FUNCTION_SPECS: readonly FunctionSpec[] = [
  {
    name: 'setup-requested',
    entryPoint: 'setupRequested',
    serviceAccountId: 'arr-setup-requested',
    topic: o => o.setupRequestedTopic,
    maxInstances: 1,
    variableStem: 'SETUP_REQUESTED',
  },
  {
    name: 'dockerfile-changed',
    entryPoint: 'dockerfileChanged',
    serviceAccountId: 'arr-dockerfile-changed',
    topic: o => o.dockerfileChangedTopic,
    maxInstances: 10,
    variableStem: 'DOCKERFILE_CHANGED',
  },
  {
    name: 'build-finished',
    entryPoint: 'buildFinished',
    serviceAccountId: 'arr-build-finished',
    topic: o => o.cloudBuildsTopic,
    maxInstances: 10,
    variableStem: 'BUILD_FINISHED',
  },
  {
    name: 'teardown-requested',
    entryPoint: 'teardownRequested',
    serviceAccountId: 'arr-teardown-requested',
    topic: o => o.teardownRequestedTopic,
    maxInstances: 1,
    variableStem: 'TEARDOWN_REQUESTED',
  },
];

export function functionSpec(name: FunctionName): FunctionSpec {
  const spec = FUNCTION_SPECS.find(s => s.name === name);
  if (spec === undefined) {
    throw new Error(`No function spec for ${name}`);
  }
  return spec;
}
