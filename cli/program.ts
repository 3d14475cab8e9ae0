/**
 * The `arr` command line: commands, options and what they accept. Parsing
 * only; what each command does is an injected action, so tests can check the
 * parsing without a project.
 */
import type {CleanupFlags} from './commands/cleanup';
import {Command, CommanderError, InvalidArgumentError, Option} from 'commander';
import {README_CONTEXT_DIGEST} from '../shared/readme-links';
import {ExitCode} from './errors';

export interface WaitFlags {
  /** --no-wait sets it false. */
  wait: boolean;
  json: boolean;
  timeout?: number;
}

export interface SetupFlags extends WaitFlags {
  dryRun: boolean;
}

export interface TeardownFlags extends WaitFlags {
  confirm?: string;
  dryRun: boolean;
  skipImages: boolean;
}

export interface ChangedFlags extends WaitFlags {
  hash?: string;
  contextDigest?: string;
  /** A folder to compute the hash (and context digest) from. */
  from?: string;
  source?: string;
  force: boolean;
}

export interface KeyFlags {
  from: string;
  json: boolean;
}

export interface StatusFlags {
  json: boolean;
}

export interface RunsFlags {
  json: boolean;
  limit: number;
  wait: boolean;
  timeout?: number;
}

export interface Actions {
  setup(flags: SetupFlags): Promise<number>;
  teardown(flags: TeardownFlags): Promise<number>;
  changed(image: string, flags: ChangedFlags): Promise<number>;
  status(flags: StatusFlags): Promise<number>;
  runs(runId: string | undefined, flags: RunsFlags): Promise<number>;
  cleanup(image: string, flags: CleanupFlags): Promise<number>;
  key(image: string, flags: KeyFlags): Promise<number>;
}

function positiveNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${what} must be a number > 0.`);
    }
    return n;
  };
}

function positiveInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1) {
      throw new InvalidArgumentError(`${what} must be a whole number ≥ 1.`);
    }
    return n;
  };
}

function addWaitOptions(command: Command): Command {
  return command
    .option(
      '--no-wait',
      'publish, print the message id (the run id) and return at once',
    )
    .option('--json', 'print one JSON object at the end (see README)', false)
    .addOption(
      new Option(
        '--timeout <seconds>',
        'stop waiting after this long (the run goes on)',
      ).argParser(positiveNumber('--timeout')),
    );
}

export const DESCRIPTION = [
  'Operate the image registry control plane: publish requests, follow the runs they start.',
  '',
  'Talks to the local stack that `npm start` runs (found through .local-stack/state.json); when GOOGLE_CLOUD_PROJECT, PUBSUB_EMULATOR_HOST or FIRESTORE_EMULATOR_HOST is set, to that project instead, with Application Default Credentials.',
  '',
  'Exit codes: 0 ok, 1 a run or build failed, 2 bad input (nothing published), 3 refused by the control plane, 4 timed out, 5 no project or unreachable (or the build is missing), 6 not found (e.g. an unknown run id), 130 interrupted.',
].join('\n');

export function createProgram(
  actions: Actions,
  output: {
    writeOut: (s: string) => void;
    writeErr: (s: string) => void;
  } = {
    writeOut: s => process.stdout.write(s),
    writeErr: s => process.stderr.write(s),
  },
): {program: Command; result: () => number} {
  let result: number = ExitCode.Ok;
  const program = new Command('arr')
    .description(DESCRIPTION)
    .exitOverride()
    .configureOutput(output)
    .showHelpAfterError(
      '(arr --help lists the commands; arr <command> --help their options)',
    )
    .allowExcessArguments(false);

  addWaitOptions(
    program
      .command('setup')
      .description(
        'ensure both repositories (persistent and ephemeral), then rebuild images a teardown removed',
      )
      .option(
        '--dry-run',
        'report what would be created, change nothing',
        false,
      ),
  ).action(async (flags: SetupFlags) => {
    result = await actions.setup(flags);
  });

  addWaitOptions(
    program
      .command('teardown')
      .description(
        'delete the ephemeral repository; the persistent one is always preserved. Without --confirm: a dry run',
      )
      .option(
        '--confirm <ephemeral-id>',
        'really delete: the ephemeral repository id, exactly (arr-coc-registry by default)',
      )
      .option('--dry-run', 'report what would be deleted and preserved', false)
      .option('--skip-images', 'skip the registry deletion altogether', false),
  ).action(async (flags: TeardownFlags) => {
    result = await actions.teardown(flags);
  });

  addWaitOptions(
    program
      .command('changed')
      .description(
        "an image's Dockerfile (or build context) changed, as the Cloud Build trigger publishes: build it unless its cache key is built",
      )
      .argument('<image>', 'a catalog image, e.g. arr-pytorch-base')
      .option(
        '--from <folder>',
        "compute the Dockerfile hash (and the context digest, for a context-keyed image) from the image's folder, or from a checkout holding the catalog's paths, and upload that build context (once: an object already there is kept)",
      )
      .option(
        '--hash <12hex>',
        'the Dockerfile hash: sha256sum Dockerfile | cut -c1-12',
      )
      .option(
        '--context-digest <12hex>',
        `the context digest, for an image keyed on its build context (${README_CONTEXT_DIGEST})`,
      )
      .option(
        '--source <uri>',
        'build context: gs://BUCKET/OBJECT or git+https://HOST/REPO#REV (default gs://$CONTEXTS_BUCKET/contexts/<image>/<hash>.tar.gz, the bucket <project>-arr-build-contexts unless set)',
      )
      .option('--force', 'build even if the hash is already built', false),
  ).action(async (image: string, flags: ChangedFlags) => {
    result = await actions.changed(image, flags);
  });

  program
    .command('key')
    .description(
      "an image's Dockerfile hash, context digest and cache key, computed from a folder; offline, nothing published (stdout: the key alone)",
    )
    .argument(
      '<image>',
      'a catalog image without a parent, e.g. arr-pytorch-base',
    )
    .requiredOption(
      '--from <folder>',
      "the image's folder, or a checkout holding the catalog's paths",
    )
    .option('--json', 'machine-readable (see README)', false)
    .action(async (image: string, flags: KeyFlags) => {
      result = await actions.key(image, flags);
    });

  program
    .command('status')
    .description(
      'repositories (tier, state, labels, images, size), images, recent builds and runs',
    )
    .option('--json', 'machine-readable (see README)', false)
    .action(async (flags: StatusFlags) => {
      result = await actions.status(flags);
    });

  program
    .command('cleanup')
    .description(
      "an image's cleanup plan, without applying it: what its next successful build deletes and keeps",
    )
    .argument('<image>', 'a catalog image, e.g. arr-trainer')
    .option('--json', 'machine-readable (see README)', false)
    .action(async (image: string, flags: CleanupFlags) => {
      result = await actions.cleanup(image, flags);
    });

  program
    .command('runs')
    .description("recent runs, or one run's step lines and outcome")
    .argument('[run-id]', 'a run id (the id of the message that started it)')
    .option('--json', 'machine-readable (see README)', false)
    .addOption(
      new Option('--limit <n>', 'how many recent runs')
        .default(20)
        .argParser(positiveInteger('--limit')),
    )
    .option(
      '--wait',
      'follow the run until it and what it started finish',
      false,
    )
    .addOption(
      new Option(
        '--timeout <seconds>',
        'with --wait: stop waiting after this long',
      ).argParser(positiveNumber('--timeout')),
    )
    .action(async (runId: string | undefined, flags: RunsFlags) => {
      result = await actions.runs(runId, flags);
    });

  return {program, result: () => result};
}

/**
 * Parses and runs; returns the exit code. Commander's own errors (unknown
 * option, missing argument) are usage errors; --help is success.
 */
export async function runProgram(
  argv: readonly string[],
  actions: Actions,
  output?: Parameters<typeof createProgram>[1],
): Promise<number> {
  const {program, result} = createProgram(actions, output);
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.Usage;
  }
  try {
    await program.parseAsync([...argv], {from: 'user'});
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    throw err;
  }
  return result();
}
