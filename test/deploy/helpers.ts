/**
 * Shared pieces of the deploy tests: the sample options and inputs the
 * expected plan is made from, a YAML reader, and ways to run the deploy CLI
 * against the fake gcloud (fixtures/fake-gcloud.js): in process through its Exec
 * seam, or as a process with fixtures/bin first on PATH.
 */
import {withStagedSource} from '../support/take-turns';
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import {createRequire} from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import {DeployOptions, parseDeployArgs} from '../../deploy/options';
import type {Exec} from '../../deploy/gcloud-runner';
import {PlanInputs} from '../../deploy/plan';
import {runDeploy} from '../../deploy/run-deploy';
import type {ProbeResult} from '../../deploy/steps';
import {type CatalogImage, imageCatalog} from '../../shared/catalog';

/** build/test/deploy → the repository root. */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'deploy', 'fixtures');
export const FAKE_GCLOUD_BIN = path.join(FIXTURES, 'bin');
export const CLI = path.join(ROOT, 'build', 'deploy', 'deploy-cli.js');

export const SAMPLE_ARGS = [
  '--project',
  'arr-sample-project',
  '--region',
  'europe-west4',
  '--operators-group',
  'arr-operators@example.com',
  '--trigger-github',
  'arr-team/training',
];

export function sampleOptions(extra: readonly string[] = []): DeployOptions {
  return parseDeployArgs([...SAMPLE_ARGS, ...extra]);
}

export function catalogImages(): readonly CatalogImage[] {
  return imageCatalog().images;
}

/** The day the expected plan was made on (the runtime is checked against it). */
export const SAMPLE_NOW = new Date('2026-12-01T12:00:00Z');

/** Fixed inputs, so the expected plan does not change with every build. */
export function sampleInputs(): PlanInputs {
  return {
    sourceDir: 'build/deploy/staged-source',
    sourceHash: '0123456789ab',
    triggerConfigHash: 'ba9876543210',
    images: catalogImages(),
    now: SAMPLE_NOW,
  };
}

/** js-yaml comes with mocha; the lead may prefer to list it (or `yaml`) as a devDependency. */
export function loadYaml(text: string): unknown {
  const jsYaml = createRequire(__filename)('js-yaml') as {
    load: (s: string) => unknown;
  };
  return jsYaml.load(text);
}

export interface FakeProject {
  dir: string;
  statePath: string;
  callsPath: string;
}

export function newFakeProject(): FakeProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-deploy-'));
  return {
    dir,
    statePath: path.join(dir, 'state.json'),
    callsPath: path.join(dir, 'calls.jsonl'),
  };
}

export function fakeEnv(
  fake: FakeProject,
  failOn?: string,
  extra: Readonly<Record<string, string>> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${FAKE_GCLOUD_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
    FAKE_GCLOUD_STATE: fake.statePath,
    FAKE_GCLOUD_CALLS: fake.callsPath,
    ARR_DEPLOY_RETRY_DELAY_MS: '0',
    // deploy --verify's live smoke runs this instead of build/cli/arr.js.
    ARR_VERIFY_ARR_CLI: FAKE_ARR,
    FAKE_ARR_CALLS: path.join(fake.dir, 'arr-calls.jsonl'),
  };
  delete env.FAKE_GCLOUD_FAIL_ON;
  // The deploy runs on the sample's day, so the runtime check does not depend on the
  // real date (test/deploy/runtime.test.ts checks the real date on its own).
  env.ARR_DEPLOY_NOW = SAMPLE_NOW.toISOString();
  delete env.FAKE_ARR_FAIL_ON;
  if (failOn !== undefined) {
    env.FAKE_GCLOUD_FAIL_ON = failOn;
  }
  return {...env, ...extra};
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[][];
}

/** What a fake answers for one call. */
type FakeCommand = (
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
) => ProbeResult;

const fixture = createRequire(path.join(FIXTURES, 'fake-gcloud.js'));
const fakeGcloud = (fixture('./fake-gcloud.js') as {fakeGcloud: FakeCommand})
  .fakeGcloud;
export const FAKE_ARR = path.join(FIXTURES, 'fake-arr');
const fakeArr = (fixture(FAKE_ARR) as {fakeArr: FakeCommand}).fakeArr;

/**
 * The fake gcloud and the fake arr of the smoke, called in process: the Exec a deploy
 * gets instead of spawnExec. `gcloud …` is the fake gcloud; `env K=V … node fake-arr …`
 * (verify's smoke) is the fake arr with those variables.
 */
export function fakeExec(env: NodeJS.ProcessEnv): Exec {
  return async argv => {
    if (argv[0] === 'gcloud') {
      return fakeGcloud(argv.slice(1), env, ROOT);
    }
    if (argv[0] === 'env') {
      const assignments = argv.slice(1).filter(a => /^[A-Z_]+=/.test(a));
      const rest = argv.slice(1 + assignments.length);
      if (rest[0] === process.execPath && rest[1] === FAKE_ARR) {
        const vars = Object.fromEntries(
          assignments.map(a => [
            a.slice(0, a.indexOf('=')),
            a.slice(a.indexOf('=') + 1),
          ]),
        );
        return fakeArr(rest.slice(2), {...env, ...vars});
      }
    }
    throw new Error(`The fakes do not run ${argv.join(' ')}`);
  };
}

function readCalls(fake: FakeProject): string[][] {
  return fs
    .readFileSync(fake.callsPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line) as string[]);
}

/**
 * Runs the deploy CLI's code (deploy/run-deploy.ts) in process on ARGS, with the fake
 * gcloud behind its Exec seam: the same deploy as the process, without a process per call.
 */
export async function runCli(
  fake: FakeProject,
  args: readonly string[],
  failOn?: string,
  env: Readonly<Record<string, string>> = {},
): Promise<CliRun> {
  fs.writeFileSync(fake.callsPath, '');
  const environment = fakeEnv(fake, failOn, env);
  let stdout = '';
  let stderr = '';
  const status = await withStagedSource(() =>
    runDeploy(args, {
      root: ROOT,
      compiled: path.join(ROOT, 'build'),
      exec: fakeExec(environment),
      stdout: text => (stdout += text),
      stderr: text => (stderr += text),
      env: environment,
    }),
  );
  return {status, stdout, stderr, calls: readCalls(fake)};
}

/** Runs `node build/deploy/deploy-cli.js ARGS` as a process, with the fake gcloud first on PATH. */
export async function runCliProcess(
  fake: FakeProject,
  args: readonly string[],
  failOn?: string,
): Promise<CliRun> {
  fs.writeFileSync(fake.callsPath, '');
  const result = await withStagedSource(() =>
    spawnSync(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: fakeEnv(fake, failOn),
      encoding: 'utf8',
      timeout: 120_000,
    }),
  );
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    calls: readCalls(fake),
  };
}

const MUTATING = new Set([
  'create',
  'update',
  'deploy',
  'enable',
  'delete',
  'add-iam-policy-binding',
  'add-invoker-policy-binding',
  'set-cleanup-policies',
  'publish',
  'cp',
]);

/** Calls that change the project (as opposed to describe, list, get-iam-policy). */
export function changingCalls(calls: readonly string[][]): string[][] {
  return calls.filter(argv =>
    argv.some(a => !a.startsWith('--') && MUTATING.has(a)),
  );
}
