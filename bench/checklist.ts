/**
 * The operator's checklist (README "Walkthrough") as one cycle of events: setup → every Dockerfile
 * (the base first) → a confirmed teardown → setup again (its reconcile brings the
 * ephemeral images back) → the same base hash again, which must be a cache hit
 * ("✓ Using cached arr-pytorch-base:… (hash matches, no rebuild)").
 */
import {createHash} from 'node:crypto';
import {imageCatalog, keyCoversOf} from '../shared/catalog';
import type {RunRecord} from '../shared/runs';
import {type StackDriver, TOPICS} from './stack-driver';

export const BASE_IMAGE = 'arr-pytorch-base';
export const EPHEMERAL_REPOSITORY = 'arr-coc-registry';
export const PERSISTENT_REPOSITORY = 'arr-coc-registry-persistent';

const hash12 = (text: string) =>
  createHash('sha256').update(text).digest('hex').slice(0, 12);

/**
 * The catalog's images with a fixed Dockerfile hash each (and a fixed context digest for
 * the context-keyed ones), the base first.
 */
export const CHECKLIST_IMAGES: ReadonlyArray<{
  image: string;
  dockerfileHash: string;
  contextDigest?: string;
  source: string;
}> = [
  'arr-pytorch-base',
  'arr-ml-stack',
  'arr-trainer',
  'arr-vertex-launcher',
].map(image => ({
  image,
  dockerfileHash: hash12(`FROM scratch # ${image}\n`),
  ...(keyCoversOf(imageCatalog().get(image)!) === 'context'
    ? {contextDigest: hash12(`context of ${image}\n`)}
    : {}),
  source: `gs://arr-bench-sources/${image}.tar.gz`,
}));

export function dockerfileChanged(image: string): {
  image: string;
  dockerfileHash: string;
  contextDigest?: string;
  source: string;
  requestedBy: string;
} {
  const entry = CHECKLIST_IMAGES.find(i => i.image === image);
  if (!entry) throw new Error(`not a catalog image: ${image}`);
  return {...entry, requestedBy: 'bench'};
}

export interface CycleResult {
  /** Run of the last step: the base hash again, expected to be a cache hit. */
  cachedBase: RunRecord;
  /** Every message this cycle published itself, in order. */
  published: Array<{topic: string; id: string}>;
}

export interface CycleOptions {
  quietMs?: number;
  /** Per step; under faults a step takes a few redeliveries. */
  stepTimeoutMs?: number;
  /** Called between steps, e.g. to publish malformed messages in the middle of it all. */
  between?: (step: string) => Promise<void>;
}

export async function runChecklistCycle(
  driver: StackDriver,
  options: CycleOptions = {},
): Promise<CycleResult> {
  const published: Array<{topic: string; id: string}> = [];
  const wait = {quietMs: options.quietMs, timeoutMs: options.stepTimeoutMs};
  const publish = async (
    topic: (typeof TOPICS)[keyof typeof TOPICS],
    data: object,
  ) => {
    const id = await driver.publish(topic, data);
    published.push({topic, id});
    return id;
  };
  const between = options.between ?? (async () => {});

  await publish(TOPICS.setup, {requestedBy: 'bench'});
  await driver.waitForQuiet(wait);
  await between('setup');

  for (const {image} of CHECKLIST_IMAGES) {
    await publish(TOPICS.dockerfileChanged, dockerfileChanged(image));
  }
  await driver.waitForQuiet(wait);
  await between('dockerfile-changed');

  await publish(TOPICS.teardown, {
    confirm: EPHEMERAL_REPOSITORY,
    requestedBy: 'bench',
  });
  await driver.waitForQuiet(wait);
  await between('teardown');

  await publish(TOPICS.setup, {requestedBy: 'bench'});
  await driver.waitForQuiet(wait);
  await between('setup again');

  const id = await publish(
    TOPICS.dockerfileChanged,
    dockerfileChanged(BASE_IMAGE),
  );
  const cachedBase = await driver.waitForRun(id, options.stepTimeoutMs);
  await driver.waitForQuiet(wait);
  return {cachedBase, published};
}

export function isCacheHit(run: RunRecord): boolean {
  return run.steps.some(s =>
    s.text.startsWith(`✓ Using cached ${BASE_IMAGE}:`),
  );
}
