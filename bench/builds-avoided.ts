/**
 * Figure 1 — builds avoided: the checklist cycle, repeated, against the builds that had
 * to happen (the base once; each ephemeral image once at first and once after every
 * teardown) and the builds that were asked for (every dockerfile-changed handled).
 */
import {CHECKLIST_IMAGES, isCacheHit, runChecklistCycle} from './checklist';
import type {StackDriver} from './stack-driver';

export interface BuildsAvoided {
  cycles: number;
  perImage: Array<{
    image: string;
    /** dockerfile-changed runs for it: what a cacheless pipeline would build. */
    requested: number;
    started: number;
    minimum: number;
  }>;
  requested: number;
  started: number;
  minimum: number;
  /** requested − started. */
  avoided: number;
  /** Cycles whose last step logged "✓ Using cached arr-pytorch-base:…". */
  cacheHits: number;
  seconds: number;
}

export async function measureBuildsAvoided(
  driver: StackDriver,
  cycles = 5,
): Promise<BuildsAvoided> {
  await driver.reset();
  const started = Date.now();
  let cacheHits = 0;
  for (let i = 0; i < cycles; i++) {
    const cycle = await runChecklistCycle(driver);
    if (isCacheHit(cycle.cachedBase)) cacheHits++;
  }
  const seconds = (Date.now() - started) / 1000;

  const builds = driver.builds();
  const runs = await driver.runs();
  const perImage = CHECKLIST_IMAGES.map(({image}) => {
    const requested = runs.filter(
      r =>
        r.kind === 'dockerfile-changed' &&
        (r.request as {image?: string} | undefined)?.image === image,
    ).length;
    return {
      image,
      requested,
      started: builds.filter(b => b.image === image).length,
      // The persistent base survives every teardown; an ephemeral image is needed
      // once at first and again after each teardown.
      minimum: image === 'arr-pytorch-base' ? 1 : 1 + cycles,
    };
  });
  const sum = (f: (p: (typeof perImage)[number]) => number) =>
    perImage.reduce((n, p) => n + f(p), 0);
  return {
    cycles,
    perImage,
    requested: sum(p => p.requested),
    started: sum(p => p.started),
    minimum: sum(p => p.minimum),
    avoided: sum(p => p.requested) - sum(p => p.started),
    cacheHits,
    seconds,
  };
}
