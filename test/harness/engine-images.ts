/**
 * Mocha global fixture: the Docker engine's images as the run found them. The stacks the suites
 * start import the example root image (EXAMPLE_ROOT_IMAGE) when the engine lacks it, and keep it
 * for a user's next `npm start`; a test run that imported it removes it again (some machines have
 * little disk). The suites remove their registries' images themselves.
 */
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {probeDockerEngine} from '../../local/standins/docker-engine';
import {EXAMPLE_ROOT_IMAGE} from '../../local/standins/example-root-image';

const run = promisify(execFile);

let importedByTheRun: (() => Promise<void>) | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  const probe = await probeDockerEngine();
  // No engine: the suites that need one fail and say how to get one.
  if (!probe.ok) return;
  const {cli} = probe.engine;
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
}
