/**
 * A real Docker registry (the CNCF distribution registry, Debian's `docker-registry`) run as a
 * child process group on a free loopback port, with its storage in a temporary directory that
 * goes when it stops. The Artifact Registry stand-in keeps its images in it.
 */
import {randomBytes} from 'node:crypto';
import {
  accessSync,
  constants,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {LOOPBACK, findFreePort, waitForHttp} from '../ports';
import {findExecutable} from '../prerequisites';
import {ProcessGroup, isMarkerRunning} from '../process-group';

export const REGISTRY_COMMAND = 'docker-registry';

export const REGISTRY_INSTALL_HELP =
  'The Artifact Registry stand-in keeps its images in a real Docker registry, Debian\'s "docker-registry" ' +
  '(the CNCF distribution registry), which is not on PATH. Install it with:\n' +
  '  sudo apt-get install docker-registry';

const START_TIMEOUT_MS = 30_000;
const DIRECTORY_PREFIX = 'arr-registry-';
/** A storage directory this old with no registry running on it was left by a killed one. */
const ABANDONED_AFTER_MS = 60_000;
/** A free port can be taken between probing and binding; try again then. */
const PORT_RACE_ATTEMPTS = 3;

export interface RegistryProcess {
  /** `127.0.0.1:PORT` the registry itself listens on. */
  readonly host: string;
  /** The registry's storage: `docker/registry/v2/{repositories,blobs}` under it. */
  readonly storageRoot: string;
  readonly pgid: number;
  /** Stops the process group and removes the storage. Idempotent. */
  stop(): Promise<void>;
}

/** `env`: whose PATH is searched for `docker-registry`. */
export async function startRegistryProcess(
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryProcess> {
  const command = findExecutable(REGISTRY_COMMAND, env);
  if (command === undefined) throw new Error(REGISTRY_INSTALL_HELP);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(command);
    } catch (error) {
      const portTaken = /address already in use/i.test(String(error));
      if (!portTaken || attempt >= PORT_RACE_ATTEMPTS) throw error;
    }
  }
}

/**
 * Memory (/dev/shm) where the machine has it, else the temporary directory: the storage is the
 * stand-in's state, gone when it stops like the rest, and a push or a reset is many small file
 * writes and deletes, which some disks make slow (on a busy shared disk, ten times slower).
 */
function storageParent(): string {
  const memory = '/dev/shm';
  try {
    accessSync(memory, constants.W_OK);
    if (statSync(memory).isDirectory()) return memory;
  } catch {
    // no memory-backed directory here
  }
  return tmpdir();
}

/**
 * Removes the storage of registries that were killed instead of stopped (a SIGKILL of the
 * stack): in memory, it would stay until the machine restarts. A directory counts as abandoned
 * when no running process has its config in its command line, and it is not brand new (one
 * being started right now has no process yet).
 */
function removeAbandonedStorage(parent: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent).filter(e => e.startsWith(DIRECTORY_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const directory = join(parent, entry);
    try {
      const age = Date.now() - statSync(directory).mtimeMs;
      if (age < ABANDONED_AFTER_MS) continue;
      if (isMarkerRunning(join(directory, 'config.yml')) !== false) continue;
      rmSync(directory, {recursive: true, force: true});
    } catch {
      // another user's, or gone meanwhile: not ours to clean
    }
  }
}

async function startOnce(command: string): Promise<RegistryProcess> {
  const parent = storageParent();
  removeAbandonedStorage(parent);
  const directory = mkdtempSync(join(parent, DIRECTORY_PREFIX));
  const storageRoot = join(directory, 'storage');
  const port = await findFreePort();
  const host = `${LOOPBACK}:${port}`;
  const configPath = join(directory, 'config.yml');
  // No blobdescriptor cache: the stand-in edits storage directly (tag and repository deletes,
  // which distribution 2.8 has no API for), and the registry must see those edits at once.
  writeFileSync(
    configPath,
    [
      'version: 0.1',
      'log: {level: warn, accesslog: {disabled: true}}',
      `storage: {filesystem: {rootdirectory: ${storageRoot}}, delete: {enabled: true}}`,
      `http: {addr: ${host}, secret: ${randomBytes(16).toString('hex')}}`,
      '',
    ].join('\n'),
  );
  const group = await ProcessGroup.start({
    name: 'docker registry',
    command,
    args: ['serve', configPath],
    marker: configPath,
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= group
      .stop({graceMs: 2_000})
      .then(() => rmSync(directory, {recursive: true, force: true}));
    return stopped;
  };
  try {
    await waitForHttp({
      url: `http://${host}/v2/`,
      timeoutMs: START_TIMEOUT_MS,
      isReady: status => status === 200,
      abandon: () => {
        const exit = group.exitedWith;
        if (exit === undefined) return undefined;
        return `it exited (${exit.signal ?? `code ${exit.code}`}): ${group.output.trim()}`;
      },
    });
  } catch (error) {
    await stop();
    throw new Error(
      `The Docker registry (${command} serve) did not start on ${host}: ${(error as Error).message}`,
    );
  }
  return {host, storageRoot, pgid: group.pgid, stop};
}
