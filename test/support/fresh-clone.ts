/**
 * A fresh clone of this checkout, as a newcomer gets it: what git would check out (no
 * build/, node_modules/ or .local-stack/), with node_modules linked to this checkout's (as
 * `npm ci` would make it, offline), npm given a cache of its own, as on a machine that never
 * ran it, and no project or emulator in the environment.
 */
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {type ProcessResult, runProcess} from './processes';

export const ROOT = resolve(__dirname, '../../..');
/** Not part of a fresh clone. */
const NOT_CHECKED_OUT = new Set([
  '.git',
  'node_modules',
  'build',
  'build-deploy',
  'coverage',
  '.local-stack',
  '.nyc_output',
]);

function copyCheckout(from: string, to: string): void {
  mkdirSync(to, {recursive: true});
  for (const entry of readdirSync(from, {withFileTypes: true})) {
    if (NOT_CHECKED_OUT.has(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) copyCheckout(source, target);
    else if (entry.isFile()) {
      copyFileSync(source, target);
      // As git checks it out: with the executable bit of bin/arr.js.
      chmodSync(target, statSync(source).mode & 0o777);
    }
  }
}

export interface FreshClone {
  /** The clone's root. */
  dir: string;
  /** Where the clone and its npm cache are; removed by `remove`. */
  scratch: string;
  /** A user's shell environment in it. */
  env: NodeJS.ProcessEnv;
  run(
    command: string,
    args: readonly string[],
    options?: {cwd?: string; env?: NodeJS.ProcessEnv},
  ): Promise<ProcessResult>;
  remove(): void;
}

export function makeFreshClone(prefix: string): FreshClone {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  const dir = join(scratch, 'repo');
  copyCheckout(ROOT, dir);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // npx's own cache, as on a machine that never ran it.
    npm_config_cache: join(scratch, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    ARR_LOCAL_STACK_STATE: join(scratch, 'no-stack.json'),
    NO_COLOR: '1',
  };
  for (const name of [
    'GOOGLE_CLOUD_PROJECT',
    'FIRESTORE_EMULATOR_HOST',
    'PUBSUB_EMULATOR_HOST',
  ]) {
    delete env[name];
  }
  return {
    dir,
    scratch,
    env,
    run: (command, args, options = {}) =>
      runProcess(command, args, {
        cwd: options.cwd ?? dir,
        env: options.env ?? env,
        timeoutMs: 300_000,
      }),
    remove: () => rmSync(scratch, {recursive: true, force: true}),
  };
}
