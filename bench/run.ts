/**
 * `npm run bench` — the figures of issue 8, measured side by side in one run on the
 * local stack, printed as a table (`--json`: as JSON). `--long` adds the convergence
 * run under faults over more cycles.
 *
 *   npm run bench                  # table
 *   npm run bench -- --json        # for machines
 *   npm run bench -- --long        # + convergence under faults, 5 cycles
 */
import {cpus} from 'node:os';
import {Command} from 'commander';
import {type LocalStack, startLocalStack} from '../local/stack';
import {type BuildsAvoided, measureBuildsAvoided} from './builds-avoided';
import {type CacheHit, measureCacheHit} from './cache-hit';
import {type CleanupAtScale, measureCleanupAtScale} from './cleanup-at-scale';
import {type ColdStart, measureColdStarts} from './cold-start';
import {
  convergenceViolations,
  faultCounts,
  runUnderFaults,
  stopFaults,
} from './convergence';
import {type DuplicateStorm, measureDuplicateStorm} from './duplicate-storm';
import {type LayerReuse, measureLayerReuse} from './layer-reuse';
import {measureReadyTime, type ReadyTime} from './ready-time';
import {StackDriver} from './stack-driver';
import {renderTable} from './table';

export interface BenchResults {
  date: string;
  command: string;
  machine: {cpus: number; node: string};
  durationSeconds: number;
  buildsAvoided: BuildsAvoided;
  cacheHit: CacheHit;
  duplicateStorm: DuplicateStorm;
  coldStart: ColdStart[];
  cleanup: CleanupAtScale;
  readyTime: ReadyTime;
  layerReuse: LayerReuse;
  convergence?: {
    cycles: number;
    failureRate: number;
    /** Calls answered UNAVAILABLE before acting, and answers lost after acting, per method. */
    failedBeforeActing: number;
    answersLost: Record<string, number>;
    seconds: number;
    violations: string[];
    standInCalls: number;
    builds: number;
    failedBuilds: number;
    notifications: number;
    malformed: number;
  };
}

interface Options {
  json: boolean;
  long: boolean;
}

const USAGE =
  'usage: npm run bench [-- --json] [-- --long]\n' +
  '  --json  print the figures as JSON\n' +
  '  --long  also run the checklist cycle under faults, 5 cycles\n';

/** The options, or undefined after printing the usage for --help. */
function parseArgs(argv: readonly string[]): Options | undefined {
  const unknown = (arg: string) =>
    new Error(`unknown option ${arg} (try --help)`);
  const command = new Command('bench')
    .option('--json')
    .option('--long')
    .option('-h, --help')
    .helpOption(false)
    .allowExcessArguments(true)
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: () => {},
      writeErr: () => {},
      outputError: () => {},
    })
    .exitOverride(err => {
      // "error: unknown option '--x'": the one way a parse fails here.
      throw unknown(/'([^']+)'/.exec(err.message)?.[1] ?? err.message);
    })
    .parse(argv, {from: 'user'});
  const stray = command.args[0];
  if (stray !== undefined) throw unknown(stray);
  const {
    json = false,
    long = false,
    help = false,
  } = command.opts<{
    json?: boolean;
    long?: boolean;
    help?: boolean;
  }>();
  if (help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  return {json, long};
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options === undefined) return;
  const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const began = Date.now();
  // Each stack gets fresh function processes: the storm's memory figure starts from
  // processes that handled nothing else.
  const withStack = async <T>(
    work: (driver: StackDriver) => Promise<T>,
  ): Promise<T> => {
    const stack: LocalStack = await startLocalStack({
      buildSeconds: 0.2,
      logLevel: 'warn',
    });
    // The in-process clients (cache-hit Firestore count) reach this stack.
    Object.assign(process.env, stack.env);
    const driver = new StackDriver(stack);
    try {
      return await work(driver);
    } finally {
      await driver.close();
      await stack.stop();
    }
  };

  const results = await withStack(async driver => {
    progress('duplicate storm (100 deliveries at once) and peak RSS…');
    const duplicateStorm = await measureDuplicateStorm(driver);
    progress('cache hit (200 deliveries)…');
    const cacheHit = await measureCacheHit(driver);
    progress('cold starts (function vs floor, alternating)…');
    const coldStart = await measureColdStarts(driver, options.long ? 9 : 5);
    progress('cleanup at scale (1,000 versions, 20 ms per call)…');
    const cleanup = await measureCleanupAtScale(driver, {
      fullSerial: options.long,
    });
    progress('builds avoided (checklist cycle × 5)…');
    const buildsAvoided = await measureBuildsAvoided(driver, 5);
    progress('ready time after a teardown vs the critical path (2 s builds)…');
    const readyTime = await measureReadyTime(driver, {
      buildSeconds: 2,
      runs: options.long ? 5 : 3,
    });
    return {
      duplicateStorm,
      cacheHit,
      coldStart,
      cleanup,
      buildsAvoided,
      readyTime,
    };
  });

  progress(
    "layer reuse: the example base cold, then after a change below its expensive layer (real builds; prunes the engine's build cache)…",
  );
  const layerReuse = await measureLayerReuse();

  let convergence: BenchResults['convergence'];
  if (options.long) {
    convergence = await withStack(async driver => {
      const cycles = 5;
      const failureRate = 0.2;
      progress(
        `convergence under faults (${cycles} cycles, ${failureRate * 100}% of stand-in calls UNAVAILABLE, answers lost)…`,
      );
      await driver.reset();
      const started = Date.now();
      const record = await runUnderFaults(driver, {cycles, failureRate});
      const seconds = (Date.now() - started) / 1000;
      const injected = stopFaults(driver);
      return {
        cycles,
        failureRate,
        ...injected,
        seconds,
        violations: await convergenceViolations(driver, record),
        ...faultCounts(driver),
        malformed: record.malformed.length,
      };
    });
  }

  const report: BenchResults = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: {cpus: cpus().length, node: process.version},
    durationSeconds: (Date.now() - began) / 1000,
    ...results,
    layerReuse,
    ...(convergence ? {convergence} : {}),
  };
  process.stdout.write(
    options.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : `${renderTable(report)}\n`,
  );
}

main().catch(error => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
