/**
 * The root image the example training tree (examples/training) starts FROM, made on this
 * machine because nothing can be pulled here: Debian's static busybox with its applets, imported
 * into the engine's image store. It stands for the CUDA image a real base starts FROM; a build's
 * FROM finds it locally, as a Cloud Build worker finds an image it pulled.
 */
import {execFile, spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {copyFile, mkdir, mkdtemp, rm, symlink} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import type {DockerEngine} from './docker-engine';

const run = promisify(execFile);

export const EXAMPLE_ROOT_IMAGE = 'arr-examples/busybox-static';
/** Debian's busybox-static puts its binary here (and in /usr/bin on a merged /usr). */
export const STATIC_BUSYBOX = '/bin/busybox';

/** Imports the root image unless the engine has it; says which it did. */
export async function ensureExampleRootImage(
  engine: DockerEngine,
  env: NodeJS.ProcessEnv = process.env,
): Promise<'present' | 'imported'> {
  try {
    await run(engine.cli, ['image', 'inspect', EXAMPLE_ROOT_IMAGE], {env});
    return 'present';
  } catch {
    // Absent: import it below.
  }
  if (!existsSync(STATIC_BUSYBOX)) {
    throw new Error(
      `the example images start FROM ${EXAMPLE_ROOT_IMAGE}, made from ${STATIC_BUSYBOX}: install it with apt-get install busybox-static`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'arr-root-image-'));
  try {
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'tmp'));
    await copyFile(STATIC_BUSYBOX, join(root, 'bin', 'busybox'));
    const {stdout} = await run(STATIC_BUSYBOX, ['--list']);
    for (const applet of stdout.split('\n').filter(Boolean)) {
      if (applet !== 'busybox')
        await symlink('busybox', join(root, 'bin', applet));
    }
    await importTree(engine, root, env);
    return 'imported';
  } finally {
    await rm(root, {recursive: true, force: true});
  }
}

function importTree(
  engine: DockerEngine,
  root: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', root, '-c', '.'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const imported = spawn(
      engine.cli,
      [
        'import',
        '--change',
        'ENV PATH=/bin',
        '--change',
        'CMD ["/bin/sh"]',
        '-',
        EXAMPLE_ROOT_IMAGE,
      ],
      {env, stdio: ['pipe', 'ignore', 'pipe']},
    );
    let stderr = '';
    imported.stderr.on('data', chunk => (stderr += String(chunk)));
    tar.stdout.pipe(imported.stdin);
    tar.on('error', error => {
      imported.kill();
      reject(
        new Error(
          `making ${EXAMPLE_ROOT_IMAGE} needs tar, which did not run: ${error.message}`,
        ),
      );
    });
    imported.on('error', reject);
    imported.on('close', code =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `docker import of ${EXAMPLE_ROOT_IMAGE} failed: ${stderr.trim()}`,
            ),
          ),
    );
  });
}
