/**
 * The Docker engine's build cache is the machine's, not a suite's: a suite that counts the
 * layers a build took from the cache (and prunes the cache to start cold) must not run while
 * another builds the same example images. Workers of a parallel run take turns through a lock
 * directory; one left by a process that died is taken over.
 */
import {
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

const LOCK = join(tmpdir(), 'arr-test-docker-build-cache.lock');
const OWNER = join(LOCK, 'pid');
/** A lock directory with no owner yet is being taken; after this long, its taker died. */
const UNOWNED_GRACE_MS = 10_000;

function holderIsGone(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(OWNER, 'utf8'));
  } catch {
    try {
      return Date.now() - statSync(LOCK).mtimeMs > UNOWNED_GRACE_MS;
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

/** Waits for the engine's build cache to be this process's alone; call the result to let go. */
export async function holdBuildCache(): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(OWNER, String(process.pid));
      return () => rmSync(LOCK, {recursive: true, force: true});
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (holderIsGone()) rmSync(LOCK, {recursive: true, force: true});
    else await sleep(250);
  }
}
