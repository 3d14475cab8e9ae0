/**
 * The four functions: name, entry point, the topic that triggers each, identity and
 * scale. Deploy creates them from this table, the local stack routes its push
 * subscriptions by it, and the tests derive their routes from it, so the three cannot
 * disagree. Entry points are the names `functions/index.ts` registers.
 */

/** The topics the functions listen on (and the CLI publishes to). */
export interface Topics {
  setupRequestedTopic: string;
  dockerfileChangedTopic: string;
  cloudBuildsTopic: string;
  teardownRequestedTopic: string;
}

/** Topic ids unless configured otherwise; Cloud Build always publishes to `cloud-builds`. */
export const DEFAULT_TOPICS: Readonly<Topics> = {
  setupRequestedTopic: 'setup-requested',
  dockerfileChangedTopic: 'dockerfile-changed',
  cloudBuildsTopic: 'cloud-builds',
  teardownRequestedTopic: 'teardown-requested',
};

export const FUNCTION_NAMES = [
  'setup-requested',
  'dockerfile-changed',
  'build-finished',
  'teardown-requested',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export type EntryPoint =
  | 'setupRequested'
  | 'dockerfileChanged'
  | 'buildFinished'
  | 'teardownRequested';

export interface FunctionSpec {
  name: FunctionName;
  entryPoint: EntryPoint;
  /** Which of the topics triggers it. */
  trigger: keyof Topics;
  /** Service account id (the part before @). */
  serviceAccountId: string;
  maxInstances: number;
  /** Shell-safe upper-case stem for the deploy script's variables of this function. */
  variableStem: string;
}

export const FUNCTION_SPECS: readonly FunctionSpec[] = [
  {
    name: 'setup-requested',
    entryPoint: 'setupRequested',
    trigger: 'setupRequestedTopic',
    serviceAccountId: 'arr-setup-requested',
    maxInstances: 1,
    variableStem: 'SETUP_REQUESTED',
  },
  {
    name: 'dockerfile-changed',
    entryPoint: 'dockerfileChanged',
    trigger: 'dockerfileChangedTopic',
    serviceAccountId: 'arr-dockerfile-changed',
    maxInstances: 10,
    variableStem: 'DOCKERFILE_CHANGED',
  },
  {
    name: 'build-finished',
    entryPoint: 'buildFinished',
    trigger: 'cloudBuildsTopic',
    serviceAccountId: 'arr-build-finished',
    maxInstances: 10,
    variableStem: 'BUILD_FINISHED',
  },
  {
    name: 'teardown-requested',
    entryPoint: 'teardownRequested',
    trigger: 'teardownRequestedTopic',
    serviceAccountId: 'arr-teardown-requested',
    maxInstances: 1,
    variableStem: 'TEARDOWN_REQUESTED',
  },
];

export function functionSpec(name: FunctionName): FunctionSpec {
  const spec = FUNCTION_SPECS.find(s => s.name === name);
  if (spec === undefined) throw new Error(`No function spec for ${name}`);
  return spec;
}

/** The topic a function listens on. */
export function topicOf(spec: FunctionSpec, topics: Topics): string {
  return topics[spec.trigger];
}

/** Topic → entry point, as deploy subscribes them. */
export function routesFor(
  topics: Topics = DEFAULT_TOPICS,
): Readonly<Record<string, EntryPoint>> {
  return Object.fromEntries(
    FUNCTION_SPECS.map(spec => [topicOf(spec, topics), spec.entryPoint]),
  );
}
