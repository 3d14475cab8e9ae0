/**
 * The deploy plan: options in, ordered steps out. Pure — it runs nothing; the
 * runner executes it (deploy/gcloud-runner.ts) and --dry-run prints it.
 *
 * Each step describes before it creates: `probe` is read-only, `judge` reads
 * its result as present / absent / drifted, and only then are `create` or
 * `update` run. A lookup step reads a value later steps need (the project
 * number, the subscription Eventarc made for a function). The steps of each
 * kind of resource are made in the *-steps.ts modules beside this one; the
 * order they run in is here.
 */
import type {CatalogImage} from '../shared/catalog';
import {FUNCTION_SPECS} from '../shared/function-specs';
import {renderCommand} from './command';
import {deadLetterPolicySteps, functionDeployStep} from './function-steps';
import {grantStep} from './grant-commands';
import {customRoleStep, serviceAccountSteps} from './identity-steps';
import {CUSTOM_ROLES, grantsBeforeFunctions} from './iam';
import {lifecycleTagSteps} from './lifecycle-tag-steps';
import {deadLetterKeepStep, topicStep} from './messaging-steps';
import {DeployOptions} from './options';
import {
  apisStep,
  firestoreStep,
  projectNumberStep,
  runsTtlStep,
} from './project-steps';
import {checkDeployableRuntime, FUNCTIONS_RUNTIME} from './runtime';
import {
  functionImagesRepositoryStep,
  persistentCleanupPolicyStep,
} from './repository-steps';
import {schedulerStep} from './schedule-step';
import {serviceAgentSteps} from './service-agent-steps';
import type {Step} from './steps';
import {bucketStep, triggerStep} from './trigger-steps';

export {ProbeError, stepCommands} from './steps';
export type {
  EnsureStep,
  LookupStep,
  ProbeResult,
  Step,
  StepState,
} from './steps';

/** What the plan needs besides options: facts about the local build. */
export interface PlanInputs {
  /** Staged function source, as the CLI passes it to --source (relative to the repo root). */
  sourceDir: string;
  /** 12 hex: fingerprint of the staged source. */
  sourceHash: string;
  /** 12 hex: fingerprint of cloudbuild/dockerfile-changed.yaml. */
  triggerConfigHash: string;
  /** The image catalog (shared/catalog.ts). */
  images: readonly CatalogImage[];
  /** The current date: the runtime is checked against Google's schedule on it. */
  now: Date;
  /** Runtime id for the functions; default FUNCTIONS_RUNTIME (deploy/runtime.ts). */
  runtime?: string;
}

/**
 * Every step, in the order it runs. Throws RuntimeError, before any step exists,
 * when the functions' runtime is decommissioned on `inputs.now`.
 */
export function buildPlan(o: DeployOptions, inputs: PlanInputs): Step[] {
  const runtime = inputs.runtime ?? FUNCTIONS_RUNTIME.id;
  checkDeployableRuntime(runtime, inputs.now);
  const steps: Step[] = [
    projectNumberStep(o),
    apisStep(o),
    // Before any grant that names one of them.
    ...serviceAgentSteps(o),
    firestoreStep(o),
    runsTtlStep(o),
  ];
  // Before any grant: the project's default (persistent) exists before teardown's
  // tag-conditioned delete right does.
  steps.push(...lifecycleTagSteps(o));
  // Like the tag binding, it waits for setup to create the persistent repository.
  steps.push(persistentCleanupPolicyStep(o));
  steps.push(...CUSTOM_ROLES.map(r => customRoleStep(o, r)));
  steps.push(...serviceAccountSteps(o));
  steps.push(
    topicStep(o, o.setupRequestedTopic, 'setup-requested'),
    topicStep(o, o.dockerfileChangedTopic, 'dockerfile-changed'),
    topicStep(
      o,
      o.cloudBuildsTopic,
      'Cloud Build notifications → build-finished',
    ),
    topicStep(o, o.teardownRequestedTopic, 'teardown-requested'),
    topicStep(o, o.deadLetterTopic, 'dead letters'),
    deadLetterKeepStep(o),
    bucketStep(o),
    functionImagesRepositoryStep(o),
  );
  steps.push(...grantsBeforeFunctions(o).map(g => grantStep(o, g)));
  for (const spec of FUNCTION_SPECS) {
    steps.push(functionDeployStep(o, spec, inputs, runtime));
    steps.push(...deadLetterPolicySteps(o, spec));
  }
  steps.push(schedulerStep(o));
  const trigger = triggerStep(o, inputs);
  if (trigger !== undefined) {
    steps.push(trigger);
  }
  return steps;
}

/** The plan as text: what --dry-run prints and the checked-in expected plan holds. */
export function renderPlan(steps: readonly Step[]): string {
  const lines: string[] = [];
  steps.forEach((step, i) => {
    lines.push(`[${i + 1}/${steps.length}] ${step.title}`);
    if (step.kind === 'lookup') {
      lines.push(
        `  lookup    ${step.variable}="$(${renderCommand(step.command)})"`,
      );
    } else {
      if (step.onlyIf !== undefined) {
        lines.push(`  only if   ${renderCommand(step.onlyIf.probe)}`);
      }
      lines.push(`  describe  ${renderCommand(step.probe)}`);
      for (const c of step.create) {
        lines.push(`  create    ${renderCommand(c)}`);
      }
      const same = JSON.stringify(step.update) === JSON.stringify(step.create);
      if (step.update.length > 0 && !same) {
        for (const c of step.update) {
          lines.push(`  update    ${renderCommand(c)}`);
        }
      } else if (same) {
        lines.push('  update    (the create command again)');
      }
    }
    lines.push('');
  });
  return lines.join('\n');
}
