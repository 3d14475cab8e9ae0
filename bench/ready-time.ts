/**
 * Figure 7 — ready time against the critical path. After a teardown, what matters is how
 * soon training can start: from publishing `setup` until every catalog image is recorded
 * present again. Its lower bound is the critical path: the longest chain, along the
 * parent → child graph, of the builds that had to run, each counted from CreateBuild to
 * its finish (Cloud Build's own time, its queue included). What is left is the control
 * plane's overhead, per hop: setup → first build created, a build's finish → the next
 * build created (Cloud Build's notification, build-finished, the dependent's
 * dockerfile-changed), and the last finish → the image recorded present.
 */
import {buildDurationsFor} from '../local/stack';
import {imageCatalog} from '../shared/catalog';
import {
  CHECKLIST_IMAGES,
  dockerfileChanged,
  EPHEMERAL_REPOSITORY,
} from './checklist';
import {type StackDriver, TOPICS, sleep} from './stack-driver';
import {median} from './stats';

export interface ReadySample {
  readyMs: number;
  criticalPathMs: number;
  /** The images on the critical path, parent first. */
  chain: string[];
  hops: number;
  /** (ready − critical path) / hops. */
  overheadPerHopMs: number;
  /** setup published → the chain's first build created. */
  firstHopMs: number;
  /** A build's finish → its dependent's build created, along the chain. */
  betweenBuildsMs: number[];
  /** The chain's last build finished → every image recorded present. */
  tailMs: number;
}

export interface ReadyTime {
  buildSeconds: number;
  samples: ReadySample[];
  readyMs: number;
  criticalPathMs: number;
  hops: number;
  overheadPerHopMs: number;
  firstHopMs: number;
  betweenBuildsMs: number;
  tailMs: number;
  chain: string[];
}

interface BuildTimes {
  image: string;
  createMs: number;
  finishMs: number;
}

function buildTimes(driver: StackDriver, ids: readonly string[]): BuildTimes[] {
  const cloudBuild = driver.stack.standIns.cloudBuild;
  return ids.flatMap(id => {
    const json = cloudBuild.buildJson(id) as {
      status?: string;
      createTime?: string;
      finishTime?: string;
      substitutions?: Record<string, string>;
    };
    const image = json.substitutions?._IMAGE;
    if (
      json.status !== 'SUCCESS' ||
      !image ||
      !json.createTime ||
      !json.finishTime
    )
      return [];
    return [
      {
        image,
        createMs: Date.parse(json.createTime),
        finishMs: Date.parse(json.finishTime),
      },
    ];
  });
}

/** The longest chain of builds along the catalog's parents, among those that ran. */
function criticalChain(builds: readonly BuildTimes[]): BuildTimes[] {
  const byImage = new Map(builds.map(b => [b.image, b]));
  const chainOf = (image: string): BuildTimes[] => {
    const build = byImage.get(image);
    if (!build) return [];
    const parent = imageCatalog().get(image)?.parent;
    return [...(parent ? chainOf(parent) : []), build];
  };
  const length = (chain: BuildTimes[]) =>
    chain.reduce((sum, b) => sum + (b.finishMs - b.createMs), 0);
  return builds
    .map(b => chainOf(b.image))
    .reduce((best, chain) => (length(chain) > length(best) ? chain : best), []);
}

async function allPresentAt(
  driver: StackDriver,
  timeoutMs: number,
): Promise<number> {
  const names = imageCatalog().names();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const manifest = await driver.manifest();
    const entries = names.map(n => manifest.get(n));
    if (entries.every(e => e?.present === true)) {
      return Math.max(...entries.map(e => Date.parse(e!.updatedAt)));
    }
    if (Date.now() > deadline) {
      throw new Error(
        `not every image present within ${timeoutMs} ms: ${names.filter((_, i) => !entries[i]?.present).join(', ')}`,
      );
    }
    await sleep(20);
  }
}

export async function measureReadyTime(
  driver: StackDriver,
  options: {buildSeconds?: number; runs?: number} = {},
): Promise<ReadyTime> {
  const buildSeconds = options.buildSeconds ?? 2;
  const runs = options.runs ?? 3;
  await driver.reset();
  driver.stack.standIns.cloudBuild.setBuildDurations(
    buildDurationsFor(buildSeconds),
  );
  await driver.waitForRun(
    await driver.publish(TOPICS.setup, {requestedBy: 'bench'}),
    60_000,
  );
  await driver.waitForQuiet();
  for (const {image} of CHECKLIST_IMAGES) {
    await driver.publish(TOPICS.dockerfileChanged, dockerfileChanged(image));
  }
  await driver.waitForQuiet({timeoutMs: 120_000});
  await allPresentAt(driver, 120_000);

  const samples: ReadySample[] = [];
  for (let i = 0; i < runs; i++) {
    // Waited for by id: a delivery slower than the quiet period would otherwise race it.
    const teardown = await driver.publish(TOPICS.teardown, {
      confirm: EPHEMERAL_REPOSITORY,
      requestedBy: 'bench',
    });
    await driver.waitForRun(teardown, 60_000);
    await driver.waitForQuiet();
    const before = new Set(driver.stack.standIns.cloudBuild.buildIds());
    const publishedAt = Date.now();
    await driver.publish(TOPICS.setup, {requestedBy: 'bench'});
    const readyAt = await allPresentAt(driver, 120_000);
    await driver.waitForQuiet();
    const ran = buildTimes(
      driver,
      driver.stack.standIns.cloudBuild.buildIds().filter(id => !before.has(id)),
    );
    const chain = criticalChain(ran);
    if (chain.length === 0) throw new Error('no build ran after the teardown');
    const criticalPathMs = chain.reduce(
      (sum, b) => sum + (b.finishMs - b.createMs),
      0,
    );
    const readyMs = readyAt - publishedAt;
    samples.push({
      readyMs,
      criticalPathMs,
      chain: chain.map(b => b.image),
      hops: chain.length,
      overheadPerHopMs: (readyMs - criticalPathMs) / chain.length,
      firstHopMs: chain[0].createMs - publishedAt,
      betweenBuildsMs: chain
        .slice(1)
        .map((b, k) => b.createMs - chain[k].finishMs),
      tailMs: readyAt - chain[chain.length - 1].finishMs,
    });
  }
  const med = (f: (s: ReadySample) => number) => median(samples.map(f));
  return {
    buildSeconds,
    samples,
    readyMs: med(s => s.readyMs),
    criticalPathMs: med(s => s.criticalPathMs),
    hops: samples[0].hops,
    overheadPerHopMs: med(s => s.overheadPerHopMs),
    firstHopMs: med(s => s.firstHopMs),
    betweenBuildsMs: median(samples.flatMap(s => s.betweenBuildsMs)),
    tailMs: med(s => s.tailMs),
    chain: samples[0].chain,
  };
}
