/**
 * Mocha global fixture: the Docker engine's images and build cache as the run found them (some
 * machines have little disk). The stacks the suites start import the example root image
 * (EXAMPLE_ROOT_IMAGE) when the engine lacks it, and keep it for a user's next `npm start`; a
 * test run that imported it removes it again. The suites remove their registries' images
 * themselves. The real-build suites prune the build cache to start as a new Cloud Build worker
 * does; when the run did (none of the records it found is left), what its builds added is
 * pruned too, so it ends empty rather than holding the run's layers. Records cannot be pruned
 * one by one, so a run that left the ones it found (no real-build suite) leaves it as it is.
 */
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {probeDockerEngine} from '../../local/standins/docker-engine';
import {EXAMPLE_ROOT_IMAGE} from '../../local/standins/example-root-image';

const run = promisify(execFile);

let importedByTheRun: (() => Promise<void>) | undefined;
let buildCacheAtStart: {cli: string; ids: Set<string>} | undefined;

async function buildCacheIds(cli: string): Promise<Set<string>> {
  const {stdout} = await run(cli, [
    'system',
    'df',
    '--verbose',
    '--format',
    '{{json .BuildCache}}',
  ]);
  const records = (JSON.parse(stdout) ?? []) as Array<{ID: string}>;
  return new Set(records.map(record => record.ID));
}

export async function mochaGlobalSetup(): Promise<void> {
  const probe = await probeDockerEngine();
  // No engine: the suites that need one fail and say how to get one.
  if (!probe.ok) return;
  const {cli} = probe.engine;
  buildCacheAtStart = {cli, ids: await buildCacheIds(cli)};
  const present = await run(cli, ['image', 'inspect', EXAMPLE_ROOT_IMAGE]).then(
    () => true,
    () => false,
  );
  if (present) return;
  importedByTheRun = async () => {
    await run(cli, ['image', 'rm', '--force', EXAMPLE_ROOT_IMAGE]).catch(
      () => undefined,
    );
  };
}

export async function mochaGlobalTeardown(): Promise<void> {
  await importedByTheRun?.();
  importedByTheRun = undefined;
  if (buildCacheAtStart) {
    const {cli, ids} = buildCacheAtStart;
    buildCacheAtStart = undefined;
    const now = await buildCacheIds(cli);
    const prunedByTheRun = [...ids].every(id => !now.has(id));
    if (prunedByTheRun && now.size > 0) {
      await run(cli, ['builder', 'prune', '--all', '--force']);
    }
  }
}
