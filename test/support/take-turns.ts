/**
 * Cross-process locks for what a parallel run's workers share beyond the emulators: the
 * Docker engine's build cache (readme-output counts the layers its builds of the example tree
 * take from the cache, so no other suite may empty the cache meanwhile; real-images, whose
 * layers are its own, holds it only for the test that empties it),
 * and the deploy's staging folder under build/ (one fixed path per compiled tree). Workers
 * take turns through a lock directory; one left by a process that died is taken over.
 */
import {createHash} from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

/** A lock directory with no owner yet is being taken; after this long, its taker died. */
const UNOWNED_GRACE_MS = 10_000;

function holderIsGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    try {
      return Date.now() - statSync(lock).mtimeMs > UNOWNED_GRACE_MS;
    } catch {
      return true;
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Waits until no other process holds `lock`; call the result to let go. */
async function hold(lock: string): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, {recursive: true, force: true});
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (holderIsGone(lock)) rmSync(lock, {recursive: true, force: true});
    else await sleep(250);
  }
}

/** The engine's build cache, this process's alone (machine-wide: one engine). */
export function holdBuildCache(): Promise<() => void> {
  return hold(join(tmpdir(), 'arr-test-docker-build-cache.lock'));
}

/** This checkout's deploy staging folder, this process's alone, while `work` runs. */
export async function withStagedSource<T>(
  work: () => Promise<T> | T,
): Promise<T> {
  const checkout = createHash('sha256')
    .update(resolve(__dirname, '../../..'))
    .digest('hex')
    .slice(0, 12);
  const release = await hold(
    join(tmpdir(), `arr-test-staged-source-${checkout}.lock`),
  );
  try {
    return await work();
  } finally {
    release();
  }
}
