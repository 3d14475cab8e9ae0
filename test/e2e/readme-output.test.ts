/**
 * Every output block of the README is the real output of its commands: `npm start`'s banner
 * (Quickstart) and the walkthrough, run in order as a user types them, with `arr` on the PATH,
 * in a copy of the example tree (`cp -r examples ~/training && cd ~/training`), against a
 * local stack with real builds, NO_COLOR=1. A block may leave lines out only where it says so
 * (`…`), cut a long line only with a final `…`, and differ only in the values that vary from
 * run to run (test/support/readme-output.ts, VARYING); nothing else.
 *
 * What the test does that the README does not say:
 * - `npm start` runs as `npm start -- --no-build --project arr-readme-output`: the tests run
 *   from the build (a rebuild would rewrite it under them), and the suite's stack has a
 *   project of its own; in the output its id is read as the README's `arr-local`, and in a
 *   command the README's `arr-local` is the suite's project.
 * - The state file is in a folder of the suite's own (ARR_LOCAL_STACK_STATE), so that a
 *   stack a developer runs in this checkout is not in the way.
 * - In a command, the README's registry `127.0.0.1:<port>` is the stack's (the user reads it
 *   from the banner).
 * - Before the walkthrough the engine is a new Cloud Build worker (no build cache), as on a
 *   machine that builds the example for the first time: the layer counts the README shows
 *   depend on it. A suite that prunes the cache or builds the same tree on the engine meanwhile would change them.
 *
 * ARR_README_OUTPUT_DUMP=<file> writes each command's real output there (JSON), to regenerate
 * the README's blocks from; then a block that does not match is reported on stderr, and the
 * walkthrough goes on.
 */
import * as assert from 'node:assert/strict';
import {type ChildProcess, spawn} from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import type {Context} from 'mocha';
import {readStackState, type StackState} from '../../cli/stack-state';
import {
  type DockerEngine,
  freshWorker,
  removeEngineImages,
} from '../../local/standins/docker-engine';
import {HONOURED_VARIABLES} from '../../local/stack-options';
import {requireDockerEngine} from '../support/docker';
import {holdBuildCache} from '../support/take-turns';
import {runProcess, userShellEnvironment} from '../support/processes';
import {README_PATH} from '../support/readme';
import {
  type ReadmeCommand,
  describeMismatch,
  matchOutput,
  outputBlocks,
  readmeLinesOf,
} from '../support/readme-output';
import {stopAtFirstFailure} from '../support/sequential-steps';

const ROOT = resolve(__dirname, '../../..');
const EXAMPLES = join(ROOT, 'examples');
const PROJECT = 'arr-readme-output';
/** The project the README's output shows: `npm start`'s default. */
const README_PROJECT = 'arr-local';
const COMMAND_TIMEOUT_MS = 180_000;

/** `npm start` as a process of its own, its stdout and stderr as one terminal shows them. */
interface NpmStart {
  readonly npm: ChildProcess;
  output(): string;
  readonly exited: Promise<unknown>;
}

function npmStart(env: NodeJS.ProcessEnv): NpmStart {
  const npm = spawn(
    'bash',
    ['-c', `exec npm start -- --no-build --project ${PROJECT} 2>&1`],
    {cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit']},
  );
  let output = '';
  npm.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise(done => npm.once('exit', done));
  return {npm, output: () => output, exited};
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the README's output blocks are the real output of their commands on the example tree", function () {
  this.timeout(COMMAND_TIMEOUT_MS);
  const blocks = outputBlocks(readFileSync(README_PATH, 'utf8'));
  const commands = blocks.flatMap(block => block.commands);
  const dumpTo = process.env.ARR_README_OUTPUT_DUMP;
  const dumped: Array<{
    command: string;
    line: number;
    output: string[];
    /** The block's lines for this command, as readmeLinesOf makes them. */
    readme: string[];
    mismatch?: string;
  }> = [];

  let engine: DockerEngine;
  let home: string;
  let training: string;
  let env: NodeJS.ProcessEnv;
  let statePath: string;
  let started: NpmStart | undefined;
  let state: StackState | undefined;
  let releaseBuildCache: (() => void) | undefined;

  before(async function (this: Context) {
    // Waiting for another suite's turn on the build cache counts too.
    this.timeout(600_000);
    engine = await requireDockerEngine();
    releaseBuildCache = await holdBuildCache();
    home = mkdtempSync(join(tmpdir(), `${PROJECT}-`));
    training = join(home, 'training');
    cpSync(EXAMPLES, training, {recursive: true});
    // What `npm install -g .` puts on the PATH, and the Docker CLI the stack's builds use.
    const bin = join(home, 'bin');
    mkdirSync(bin);
    symlinkSync(join(ROOT, 'bin', 'arr.js'), join(bin, 'arr'));
    symlinkSync(engine.cli, join(bin, 'docker'));
    statePath = join(home, 'checkout', '.local-stack', 'state.json');
    env = userShellEnvironment(statePath, {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    });
    // A shell that follows the README has none of the stack's configuration set.
    for (const name of [
      ...HONOURED_VARIABLES,
      'LOG_LEVEL',
      'ARR_BUILD_SECONDS',
    ]) {
      delete env[name];
    }
  });

  after(async function (this: Context) {
    this.timeout(90_000);
    if (dumpTo) writeFileSync(dumpTo, JSON.stringify(dumped, null, 1));
    if (started !== undefined && started.npm.exitCode === null) {
      started.npm.kill('SIGTERM');
      await Promise.race([
        started.exited,
        sleep(60_000, undefined, {ref: false}),
      ]);
    }
    // The stack's own process, should npm have gone without passing the signal on.
    if (state !== undefined && processAlive(state.pid)) {
      process.kill(state.pid, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (processAlive(state.pid) && Date.now() < deadline) await sleep(200);
      if (processAlive(state.pid)) process.kill(state.pid, 'SIGKILL');
    }
    const registry = state?.endpoints?.registry;
    if (engine && registry) await removeEngineImages(engine, registry);
    if (home) rmSync(home, {recursive: true, force: true});
    releaseBuildCache?.();
  });

  stopAtFirstFailure(() => {
    if (started) {
      process.stderr.write(
        `--- npm start output (the stack, its functions' logs) ---\n${started.output().slice(-20_000)}\n`,
      );
    }
  });

  for (const command of commands) {
    it(`README.md:${command.line}: $ ${command.command}`, async () => {
      const output =
        command.command === 'npm start'
          ? await startTheStack()
          : await runAsTyped(command);
      const shown = output.map(line =>
        line.replaceAll(PROJECT, README_PROJECT),
      );
      const mismatch = matchOutput(command.output, shown);
      const why = mismatch && describeMismatch(command, mismatch, shown);
      dumped.push({
        command: command.command,
        line: command.line,
        output,
        readme: readmeLinesOf(shown),
      });
      if (why && dumpTo) {
        dumped[dumped.length - 1].mismatch = why;
        process.stderr.write(`${why}\n`);
      } else if (why) {
        assert.fail(why);
      }
    });
  }

  /** Starts `npm start`; its output up to the end of the banner. */
  async function startTheStack(): Promise<string[]> {
    started = npmStart(env);
    const deadline = Date.now() + 120_000;
    let banner: RegExpExecArray | null = null;
    while (banner === null) {
      banner = /\nDrive it from another terminal:\n(?:.+\n)+\n/.exec(
        started.output(),
      );
      if (started.npm.exitCode !== null) {
        assert.fail(`npm start exited early:\n${started.output()}`);
      }
      if (Date.now() > deadline) {
        assert.fail(`npm start printed no banner:\n${started.output()}`);
      }
      if (banner === null) await sleep(100);
    }
    const lookup = readStackState(statePath);
    assert.equal(lookup.kind, 'live', 'npm start wrote its state file');
    state = lookup.kind === 'live' ? lookup.state : undefined;
    assert.ok(state?.endpoints?.registry, 'the state file names the registry');
    // A new Cloud Build worker, as on a first run on this machine.
    await freshWorker(engine, state.endpoints.registry);
    const upToBanner = started
      .output()
      .slice(0, banner.index + banner[0].length);
    return upToBanner.split('\n');
  }

  /** Runs a README command in the training tree, in a shell with arr on the PATH. */
  async function runAsTyped(command: ReadmeCommand): Promise<string[]> {
    assert.ok(state, 'npm start runs');
    const registry = state.endpoints!.registry;
    const typed = command.command
      .replace(/127\.0\.0\.1:\d+/g, registry)
      .replaceAll(`/${README_PROJECT}/`, `/${PROJECT}/`);
    const result = await runProcess('bash', ['-c', `{ ${typed}\n} 2>&1`], {
      cwd: training,
      env,
      timeoutMs: COMMAND_TIMEOUT_MS - 10_000,
    });
    assert.equal(
      result.code,
      0,
      `$ ${typed} exited ${result.code}:\n${result.stdout}${result.stderr}`,
    );
    return result.stdout.split('\n');
  }
});
