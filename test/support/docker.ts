/**
 * The local Docker engine as a user drives it: `docker push`, `docker pull`, `docker tag`, with
 * every image a test put into the engine removed afterwards (some machines have little disk).
 * A test that needs the engine fails, with how to get one, when it does not answer.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {
  DOCKER_INSTALL_HINT,
  type DockerEngine,
  probeDockerEngine,
} from '../../local/standins/docker-engine';
import {tarOfOneFile} from '../../local/standins/small-image';
import {type ProcessResult, runProcess} from './processes';

const DOCKER_TIMEOUT_MS = 60_000;

/** Runs `docker ARGS`; resolves with the outcome, failed or not. */
export function dockerRun(...args: string[]): Promise<ProcessResult> {
  return runProcess('docker', args, {
    env: process.env,
    timeoutMs: DOCKER_TIMEOUT_MS,
  });
}

/** Runs `docker ARGS`; its stdout, or an error carrying its output. */
export async function docker(...args: string[]): Promise<string> {
  const result = await dockerRun(...args);
  if (result.code !== 0) {
    throw new Error(
      `docker ${args.join(' ')} failed (${result.code}):\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

/** The engine builds run on; throws, saying how to install and start one, unless it answers. */
export async function requireDockerEngine(): Promise<DockerEngine> {
  const probe = await probeDockerEngine();
  if (probe.ok) return probe.engine;
  throw new Error(
    `This test needs a Docker engine, and none answers: ${probe.reason}.\n` +
      `To fix: ${DOCKER_INSTALL_HINT}; the user running the tests must be able to reach its socket.`,
  );
}

/** The digest `docker push` printed (`latest: digest: sha256:… size: 527`). */
export function pushedDigest(output: string): string {
  const match = /digest: (sha256:[0-9a-f]{64})/.exec(output);
  if (!match) throw new Error(`docker push printed no digest:\n${output}`);
  return match[1];
}

/** References a test made in the engine; `removeAll` runs `docker rmi` on them. */
export class EngineImages {
  private readonly references = new Set<string>();

  /** Records `reference` for removal and returns it. */
  track(reference: string): string {
    this.references.add(reference);
    return reference;
  }

  /** `docker import` of a one-file image holding `text`, as `reference`. */
  async importImage(reference: string, text: string): Promise<string> {
    const directory = mkdtempSync(join(tmpdir(), 'arr-docker-'));
    try {
      const tar = join(directory, 'rootfs.tar');
      writeFileSync(tar, tarOfOneFile('hello.txt', Buffer.from(text)));
      await docker('import', tar, this.track(reference));
    } finally {
      rmSync(directory, {recursive: true, force: true});
    }
    return reference;
  }

  /** `docker pull`, tracked for removal when it succeeds. */
  async pull(reference: string): Promise<ProcessResult> {
    const result = await dockerRun('pull', reference);
    if (result.code === 0) this.track(reference);
    return result;
  }

  async removeAll(): Promise<void> {
    if (this.references.size === 0) return;
    await dockerRun('rmi', '--force', ...this.references);
    this.references.clear();
  }
}
