/**
 * `npm run deploy -- --project P [--region R] [--dry-run] ...`
 *
 * Deploys the control plane to a Google Cloud project with gcloud: stages the
 * compiled functions, builds the plan, then runs it step by step (or, with
 * --dry-run, prints it and runs nothing). Re-running changes nothing that is
 * already in place.
 */
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {runPlan, spawnExec, StepFailedError, summarise} from './gcloud-runner';
import {
  DeployOptions,
  DeployOptionsError,
  parseDeployArgs,
  USAGE,
} from './options';
import {buildPlan, CatalogImage, renderPlan, TRIGGER_CONFIG_PATH} from './plan';
import {StageError, stageSource, STAGED_SOURCE_DIR} from './stage-source';

/** build/deploy/deploy-cli.js → the repository root. */
const ROOT = path.resolve(__dirname, '..', '..');

function readCatalog(root: string): CatalogImage[] {
  const file = path.join(root, 'shared/image-catalog.json');
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    images?: unknown;
  };
  if (!Array.isArray(parsed.images)) {
    throw new Error(`${file} has no "images" list.`);
  }
  return parsed.images.map((i: Record<string, unknown>) => {
    const {name, dockerfile, context, keyCovers} = i;
    if (
      typeof name !== 'string' ||
      typeof dockerfile !== 'string' ||
      typeof context !== 'string'
    ) {
      throw new Error(
        `${file}: every image needs string name, dockerfile and context.`,
      );
    }
    if (
      keyCovers !== undefined &&
      keyCovers !== 'dockerfile' &&
      keyCovers !== 'context'
    ) {
      throw new Error(
        `${file}: ${name}: keyCovers must be "dockerfile" or "context".`,
      );
    }
    return {name, dockerfile, context, keyCovers};
  });
}

function fileHash(file: string): string {
  return createHash('sha256')
    .update(fs.readFileSync(file))
    .digest('hex')
    .slice(0, 12);
}

function warnings(o: DeployOptions): string[] {
  const out: string[] = [];
  if (o.cloudBuildsTopic !== 'cloud-builds') {
    out.push(
      `! Cloud Build publishes build notifications only to a topic named "cloud-builds"; build-finished listens on "${o.cloudBuildsTopic}", so something must forward them there.`,
    );
  }
  if (o.trigger.kind === 'none') {
    out.push(
      '! No --trigger-github or --trigger-repository: the Cloud Build trigger on Dockerfile commits is not created (publish dockerfile-changed by hand, or re-run with one).',
    );
  }
  if (o.operatorsGroup === '') {
    out.push(
      '! No --operators-group: only the scheduler (and project owners) may publish teardown-requested.',
    );
  }
  return out;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = parseDeployArgs(argv);
  const log = (line: string) => process.stdout.write(`${line}\n`);

  let sourceHash: string;
  try {
    const staged = stageSource(ROOT);
    sourceHash = staged.hash;
    log(
      `✓ Staged function source: ${staged.dir} (${staged.files} files, ${staged.hash})`,
    );
  } catch (err) {
    if (err instanceof StageError && options.dryRun) {
      sourceHash = 'not-built';
      log(
        `! ${err.message} (dry run: the plan shows the source it would deploy)`,
      );
    } else {
      throw err;
    }
  }
  const steps = buildPlan(options, {
    sourceDir: STAGED_SOURCE_DIR,
    sourceHash,
    triggerConfigHash: fileHash(path.join(ROOT, TRIGGER_CONFIG_PATH)),
    images: readCatalog(ROOT),
  });
  for (const w of warnings(options)) {
    log(w);
  }

  if (options.dryRun) {
    log(
      `Dry run for project ${options.project} in ${options.region}: ${steps.length} steps, nothing is run.`,
    );
    log(
      'Each step runs its describe command, then create only if absent (update if it has drifted).\n',
    );
    process.stdout.write(renderPlan(steps));
    return 0;
  }

  log(
    `Deploying to project ${options.project} in ${options.region}: ${steps.length} steps.`,
  );
  const retryDelay = Number(process.env.ARR_DEPLOY_RETRY_DELAY_MS ?? '5000');
  try {
    const reports = await runPlan(steps, {
      exec: spawnExec(ROOT),
      log,
      retryDelayMs: Number.isFinite(retryDelay) ? retryDelay : 5000,
    });
    log(`✓ Deployed: ${summarise(reports)}.`);
    log(
      `Next: publish a first setup-requested to create the repositories:\n  gcloud pubsub topics publish ${options.setupRequestedTopic} --project=${options.project} --message='{"requestedBy":"first-deploy"}'`,
    );
    return 0;
  } catch (err) {
    if (err instanceof StepFailedError) {
      log(
        `✗ Stopped at step ${err.stepNumber} of ${steps.length}. Fix the cause above and run the same command again: steps already in place are skipped.`,
      );
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  code => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof DeployOptionsError || err instanceof StageError) {
      process.stderr.write(`✗ ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
