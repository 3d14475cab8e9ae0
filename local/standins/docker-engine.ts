/**
 * The Docker engine the local Cloud Build runs its steps on. Cloud Build's
 * `gcr.io/cloud-builders/docker` (tag `latest`) is Docker 20.10.24, which Debian's `docker.io`
 * package ships, so its CLI (/usr/bin/docker) is preferred over a newer one on PATH: a newer CLI
 * without buildx refuses `DOCKER_BUILDKIT=1` builds that the builder runs.
 */
import {execFile} from 'node:child_process';
import {existsSync} from 'node:fs';
import {promisify} from 'node:util';

const run = promisify(execFile);

/** Where Debian's docker.io puts its CLI: the builder's own version. */
export const DEBIAN_DOCKER_CLI = '/usr/bin/docker';

export const DOCKER_INSTALL_HINT =
  "install Debian's Docker engine (apt-get install docker.io) and start it as root (dockerd &), or pass --simulated-builds";

export interface DockerEngine {
  /** The docker CLI that steps run. */
  cli: string;
  clientVersion: string;
  serverVersion: string;
}

/** The CLI to run: DOCKER_CLI, else Debian's, else `docker` on PATH. */
export function dockerCli(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER_CLI) return env.DOCKER_CLI;
  return existsSync(DEBIAN_DOCKER_CLI) ? DEBIAN_DOCKER_CLI : 'docker';
}

export type EngineProbe =
  {ok: true; engine: DockerEngine} | {ok: false; reason: string};

/** Asks the engine (DOCKER_HOST, else the default socket) for its version. */
export async function probeDockerEngine(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 10_000,
): Promise<EngineProbe> {
  const cli = dockerCli(env);
  try {
    const {stdout} = await run(
      cli,
      ['version', '--format', '{{.Client.Version}} {{.Server.Version}}'],
      {env, timeout: timeoutMs},
    );
    const [clientVersion, serverVersion] = stdout.trim().split(/\s+/);
    if (!serverVersion) {
      return {ok: false, reason: `${cli} answered without an engine version`};
    }
    return {ok: true, engine: {cli, clientVersion, serverVersion}};
  } catch (error) {
    const detail = (error as {stderr?: string; message: string}).stderr?.trim();
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? `no docker CLI (${cli})`
        : (detail || (error as Error).message).split('\n')[0];
    return {ok: false, reason};
  }
}

/** Removes the engine's images of `registryHost` (what a stack's builds pulled and pushed). */
export async function removeEngineImages(
  engine: DockerEngine,
  registryHost: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const {stdout} = await run(
    engine.cli,
    ['image', 'ls', '--format', '{{.Repository}} {{.ID}}'],
    {env},
  ).catch(() => ({stdout: ''}));
  const ids = new Set(
    stdout
      .split('\n')
      .map(line => line.split(' '))
      .filter(([repository]) => repository?.startsWith(`${registryHost}/`))
      .map(([, id]) => id),
  );
  if (ids.size === 0) return 0;
  await run(engine.cli, ['image', 'rm', '--force', ...ids], {env}).catch(
    () => undefined,
  );
  return ids.size;
}

/**
 * What a new Cloud Build worker has: none of this registry's images, and no build cache
 * (the engine's whole BuildKit cache is pruned: say so to whoever runs it).
 */
export async function freshWorker(
  engine: DockerEngine,
  registryHost: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  await removeEngineImages(engine, registryHost, env);
  await run(engine.cli, ['builder', 'prune', '--all', '--force'], {env});
}
