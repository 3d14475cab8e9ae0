/**
 * What `npm run deploy` does, as a function of its arguments and surroundings: stages the
 * compiled functions, builds the plan, then runs it step by step (or, with --dry-run,
 * prints it and runs nothing), then verifies. The CLI (deploy/deploy-cli.ts) passes the
 * process's; tests pass a fake gcloud through `exec` and run it in process.
 */
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {imageCatalog} from '../shared/catalog';
import {Exec, runPlan, StepFailedError, summarise} from './gcloud-runner';
import {
  answerFromArguments,
  DeployOptions,
  DeployOptionsError,
} from './options';
import {buildPlan, renderPlan} from './plan';
import {TRIGGER_CONFIG_PATH} from './trigger-steps';
import {
  checkDeployableRuntime,
  FUNCTIONS_RUNTIME,
  RuntimeError,
} from './runtime';
import {StageError, stageSource, stagedSourceDir} from './stage-source';
import {defaultArrCommand, verifyProject} from './verify';
import {afterTheLastStep, firstSetupLines} from './next-steps';

export interface DeployIo {
  /** The repository root: commands run in it. */
  root: string;
  /** The compiled tree deploy runs from (build-deploy/): the functions are staged from it, the smoke's arr runs from it. */
  compiled: string;
  /** Runs a command (gcloud, the smoke's arr) and answers with its outcome. */
  exec: Exec;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** ARR_DEPLOY_NOW, ARR_DEPLOY_RETRY_DELAY_MS, ARR_VERIFY_ARR_CLI. */
  env: NodeJS.ProcessEnv;
}

function fileHash(file: string): string {
  return createHash('sha256')
    .update(fs.readFileSync(file))
    .digest('hex')
    .slice(0, 12);
}

/** Today, or the date in ARR_DEPLOY_NOW (ISO 8601; tests set it to check the runtime schedule). */
function now(env: NodeJS.ProcessEnv): Date {
  const override = env.ARR_DEPLOY_NOW;
  if (override === undefined || override === '') return new Date();
  const date = new Date(override);
  if (Number.isNaN(date.getTime())) {
    throw new RuntimeError(
      `ARR_DEPLOY_NOW is not a date: ${JSON.stringify(override)}`,
    );
  }
  return date;
}

function warnings(o: DeployOptions, runtimeWarning?: string): string[] {
  const out: string[] = runtimeWarning === undefined ? [] : [runtimeWarning];
  if (o.cloudBuildsTopic !== 'cloud-builds') {
    out.push(
      `! Cloud Build publishes a build's notifications to the topic named "cloud-builds" unless the build's options.pubsubTopic names another, and the image builds name none; build-finished listens on "${o.cloudBuildsTopic}", so something must forward them there.`,
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
  if (o.engineersGroup === '') {
    out.push(
      `! No --engineers-group: whoever runs \`arr changed --from\` needs roles/storage.objectCreator on gs://${o.contextsBucket} and roles/pubsub.publisher on ${o.dockerfileChangedTopic}; grant them yourself (README: "Who may run arr changed --from").`,
    );
  }
  return out;
}

async function deploy(argv: readonly string[], io: DeployIo): Promise<number> {
  const {root, compiled, exec, env} = io;
  const answered = answerFromArguments(argv, io);
  if ('exit' in answered) return answered.exit;
  const {options} = answered;
  const log = (line: string) => io.stdout(`${line}\n`);
  const verify = async (): Promise<number> => {
    log(
      `\nVerifying project ${options.project}: each IAM claim asked of the Policy Troubleshooter${options.smoke ? ', then a live smoke through arr' : ''}.`,
    );
    const report = await verifyProject(options, {
      exec,
      log,
      arrCommand: defaultArrCommand(compiled, env),
      smoke: options.smoke,
    });
    return report.ok ? 0 : 1;
  };
  if (options.verify === 'only') {
    return verify();
  }

  const today = now(env);
  // Before anything else: Google refuses functions on a decommissioned runtime.
  const runtimeWarning = checkDeployableRuntime(FUNCTIONS_RUNTIME.id, today);

  let sourceHash: string;
  try {
    const staged = stageSource(root, compiled);
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
  log(
    `✓ Functions runtime: ${FUNCTIONS_RUNTIME.id} (Node.js ${FUNCTIONS_RUNTIME.nodeMajor}; deprecated from ${FUNCTIONS_RUNTIME.deprecation}, decommissioned ${FUNCTIONS_RUNTIME.decommission})`,
  );
  const steps = buildPlan(options, {
    sourceDir: stagedSourceDir(root, compiled),
    sourceHash,
    triggerConfigHash: fileHash(path.join(root, TRIGGER_CONFIG_PATH)),
    images: imageCatalog().images,
    now: today,
    runtime: FUNCTIONS_RUNTIME.id,
  });
  for (const w of warnings(options, runtimeWarning)) {
    log(w);
  }

  if (options.dryRun) {
    log(
      `Dry run for project ${options.project} in ${options.region}: ${steps.length} steps, nothing is run.`,
    );
    log(
      'Each step runs its describe command, then create only if absent (update if it has drifted).\n',
    );
    io.stdout(renderPlan(steps));
    log(afterTheLastStep(options));
    return 0;
  }

  log(
    `Deploying to project ${options.project} in ${options.region}: ${steps.length} steps.`,
  );
  const retryDelay = Number(env.ARR_DEPLOY_RETRY_DELAY_MS ?? '5000');
  try {
    const reports = await runPlan(steps, {
      exec,
      log,
      retryDelayMs: Number.isFinite(retryDelay) ? retryDelay : 5000,
    });
    log(`✓ Deployed: ${summarise(reports)}.`);
    if (reports.some(r => r.outcome === 'skipped')) {
      // The persistent repository does not exist yet: it inherits arr-lifecycle=persistent
      // from the project until deploy binds the value on it directly.
      log(`Next: ${firstSetupLines(options).join('\n')}`);
    }
    if (options.verify === 'skip') {
      log(
        `Not verified (--no-verify): run npm run deploy -- --project ${options.project} --verify`,
      );
      return 0;
    }
  } catch (err) {
    if (err instanceof StepFailedError) {
      log(
        `✗ Stopped at step ${err.stepNumber} of ${steps.length}. Fix the cause above and run the same command again: steps already in place are skipped.`,
      );
      return 1;
    }
    throw err;
  }
  return verify();
}

/**
 * Runs deploy and answers with its exit code: 0 done, 1 a step or a claim failed,
 * 2 refused before anything ran (options, staging, runtime). Errors go to `stderr`.
 */
export async function runDeploy(
  argv: readonly string[],
  io: DeployIo,
): Promise<number> {
  try {
    return await deploy(argv, io);
  } catch (err) {
    if (
      err instanceof DeployOptionsError ||
      err instanceof StageError ||
      err instanceof RuntimeError
    ) {
      io.stderr(`✗ ${err.message}\n`);
      return 2;
    }
    io.stderr(
      `✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  }
}
