/**
 * Runs a build for real, the way Cloud Build runs it on a worker: fetch the source into a
 * workspace, run each step in order, then push `images`. Only the docker builder
 * (`gcr.io/cloud-builders/docker`) is run: as the docker CLI with the step's args, or with
 * `entrypoint: bash` as bash with that CLI on PATH. Any other builder fails the build: this
 * machine has no registry to pull builder images from.
 */
import {spawn} from 'node:child_process';
import {mkdir, mkdtemp, readFile, rm, symlink} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {
  applySubstitutions,
  type SubstitutionScope,
} from './build-substitutions';
import type {DockerEngine} from './docker-engine';
import {
  isProtoObject,
  type ProtoObject,
  stringField,
  stringListField,
} from './request-fields';

export const DOCKER_BUILDER = 'gcr.io/cloud-builders/docker';

/** A Cloud Storage object, as `Build.source.storageSource` names it. */
export interface StorageObject {
  bucket: string;
  object: string;
  generation?: string;
}

/** Reads a build's source archive (a gzipped tarball) from Cloud Storage. */
export type FetchStorageSource = (source: StorageObject) => Promise<Buffer>;

export type StepStatus =
  'QUEUED' | 'WORKING' | 'SUCCESS' | 'FAILURE' | 'TIMEOUT' | 'CANCELLED';

export interface StepState {
  status: StepStatus;
  startTime?: Date;
  endTime?: Date;
}

export interface PushedImage {
  name: string;
  digest: string;
  startTime: Date;
  endTime: Date;
}

export type RunOutcome =
  | {status: 'SUCCESS'; images: PushedImage[]; stepOutputs: Buffer[]}
  | {
      status: 'FAILURE';
      statusDetail: string;
      failureInfo: {
        type: 'USER_BUILD_STEP' | 'PUSH_FAILED' | 'FETCH_SOURCE_FAILED';
        detail: string;
      };
    }
  | {status: 'TIMEOUT' | 'CANCELLED'; statusDetail: string};

export interface RunBuildOptions {
  buildId: string;
  /** The Build as the client sent it. */
  request: ProtoObject;
  substitutions: SubstitutionScope;
  engine: DockerEngine;
  fetchSource?: FetchStorageSource;
  /** Environment every step gets (DOCKER_HOST, when the engine is not on the default socket). */
  stepEnvironment?: Readonly<Record<string, string>>;
  /** Called whenever a step changes state; `states` is the whole list. */
  onStepChange(states: readonly StepState[]): void;
  /** Aborted with 'TIMEOUT' or 'CANCELLED'. */
  signal: AbortSignal;
  /** Every line the steps print, prefixed as Cloud Build's log prefixes it. */
  log(line: string): void;
}

/** Cloud Build keeps the first 50 KB a step writes to $BUILDER_OUTPUT/output. */
export const STEP_OUTPUT_LIMIT = 50 * 1024;

/** How many lines of a failed step's output go into `failureInfo.detail`. */
const FAILURE_LOG_LINES = 20;

export async function runBuild(options: RunBuildOptions): Promise<RunOutcome> {
  const root = await mkdtemp(
    join(tmpdir(), `arr-build-${options.buildId.slice(0, 8)}-`),
  );
  try {
    return await runIn(root, options);
  } finally {
    await rm(root, {recursive: true, force: true});
  }
}

async function runIn(
  root: string,
  options: RunBuildOptions,
): Promise<RunOutcome> {
  const workspace = join(root, 'workspace');
  const bin = join(root, 'bin');
  await mkdir(workspace);
  await mkdir(join(root, 'home'));
  await mkdir(bin);
  await symlink(resolve(options.engine.cli), join(bin, 'docker')).catch(
    async () => symlink(options.engine.cli, join(bin, 'docker')),
  );
  const steps = (
    Array.isArray(options.request.steps) ? options.request.steps : []
  ).filter(isProtoObject);
  const states: StepState[] = steps.map(() => ({status: 'QUEUED'}));
  const outputs = join(root, 'outputs');
  const env = {
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
    HOME: join(root, 'home'),
    BUILDER_OUTPUT: outputs,
    ...options.stepEnvironment,
  };
  const stepOutputs: Buffer[] = [];

  const fetched = await fetchSourceInto(workspace, options);
  if (fetched) return fetched;

  for (const [index, step] of steps.entries()) {
    const label = `Step #${index}${stringField(step, 'id') ? ` - "${stringField(step, 'id')}"` : ''}`;
    const stopped = stoppedOutcome(options.signal);
    if (stopped) return stopped;
    const command = stepCommand(step, options);
    if ('refusal' in command) {
      setStep(states, index, 'FAILURE', options);
      return stepFailure(label, command.refusal, []);
    }
    setStep(states, index, 'WORKING', options);
    await rm(outputs, {recursive: true, force: true});
    await mkdir(outputs);
    const result = await runProcess(command.file, command.args, {
      cwd: join(
        workspace,
        applySubstitutions(stringField(step, 'dir'), options.substitutions),
      ),
      env: {...env, ...stepEnv(step, options)},
      signal: options.signal,
      log: line => options.log(`${label}: ${line}`),
    });
    if (result.aborted) {
      setStep(
        states,
        index,
        options.signal.reason === 'TIMEOUT' ? 'TIMEOUT' : 'CANCELLED',
        options,
      );
      return stoppedOutcome(options.signal)!;
    }
    if (result.code !== 0) {
      setStep(states, index, 'FAILURE', options);
      return stepFailure(
        label,
        `build step ${index} "${stringField(step, 'name')}" failed: step exited with non-zero status: ${result.code}`,
        result.tail,
      );
    }
    stepOutputs[index] = await readFile(join(outputs, 'output')).then(
      output => output.subarray(0, STEP_OUTPUT_LIMIT),
      () => Buffer.alloc(0),
    );
    setStep(states, index, 'SUCCESS', options);
  }
  return pushImages(workspace, env, stepOutputs, options);
}

async function fetchSourceInto(
  workspace: string,
  options: RunBuildOptions,
): Promise<RunOutcome | undefined> {
  const source = options.request.source;
  if (!isProtoObject(source)) return undefined;
  const storage = source.storageSource;
  if (!isProtoObject(storage)) {
    return {
      status: 'FAILURE',
      statusDetail: 'the local Cloud Build fetches Cloud Storage sources only',
      failureInfo: {
        type: 'FETCH_SOURCE_FAILED',
        detail: `the local Cloud Build fetches Cloud Storage sources only, not ${Object.keys(source).join(', ')}`,
      },
    };
  }
  const object: StorageObject = {
    bucket: stringField(storage, 'bucket'),
    object: stringField(storage, 'object'),
    generation: stringField(storage, 'generation') || undefined,
  };
  const name = `gs://${object.bucket}/${object.object}`;
  const failed = (detail: string): RunOutcome => ({
    status: 'FAILURE',
    statusDetail: `failed to fetch source ${name}: ${detail}`,
    failureInfo: {
      type: 'FETCH_SOURCE_FAILED',
      detail: `failed to fetch source ${name}: ${detail}`,
    },
  });
  if (!options.fetchSource)
    return failed(
      'this local Cloud Build has no Cloud Storage to read it from',
    );
  let archive: Buffer;
  try {
    archive = await options.fetchSource(object);
  } catch (error) {
    return failed((error as Error).message);
  }
  const untar = await runProcess('tar', ['-xzf', '-', '-C', workspace], {
    cwd: workspace,
    env: {PATH: '/usr/bin:/bin'},
    signal: options.signal,
    input: archive,
    log: line => options.log(`Fetching source: ${line}`),
  });
  if (untar.code !== 0)
    return failed(`not a gzipped tarball (${untar.tail.join(' ')})`);
  options.log(`Fetched source ${name} (${archive.length} bytes)`);
  return undefined;
}

function stepCommand(
  step: ProtoObject,
  options: RunBuildOptions,
): {file: string; args: string[]} | {refusal: string} {
  const name = stringField(step, 'name');
  const args = stringListField(step, 'args').map(arg =>
    applySubstitutions(arg, options.substitutions),
  );
  if (name !== DOCKER_BUILDER) {
    return {
      refusal: `the local Cloud Build runs ${DOCKER_BUILDER} steps only (docker, or entrypoint bash); "${name}" is not run here`,
    };
  }
  const entrypoint = stringField(step, 'entrypoint');
  if (entrypoint === '' || entrypoint === 'docker')
    return {file: 'docker', args};
  if (entrypoint === 'bash' || entrypoint === 'sh')
    return {file: entrypoint, args};
  return {
    refusal: `the local Cloud Build runs ${DOCKER_BUILDER} steps as docker or with entrypoint bash; entrypoint "${entrypoint}" is not run here`,
  };
}

function stepEnv(
  step: ProtoObject,
  options: RunBuildOptions,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of stringListField(step, 'env')) {
    const at = entry.indexOf('=');
    if (at > 0)
      env[entry.slice(0, at)] = applySubstitutions(
        entry.slice(at + 1),
        options.substitutions,
      );
  }
  return env;
}

function setStep(
  states: StepState[],
  index: number,
  status: StepStatus,
  options: RunBuildOptions,
): void {
  const now = new Date();
  const state = states[index];
  if (status === 'WORKING') state.startTime = now;
  else state.endTime = now;
  state.status = status;
  options.onStepChange(states);
}

function stepFailure(
  label: string,
  detail: string,
  tail: readonly string[],
): RunOutcome {
  return {
    status: 'FAILURE',
    statusDetail: `Build step failure: ${detail}`,
    failureInfo: {
      type: 'USER_BUILD_STEP',
      detail: [
        `${label}: ${detail}`,
        ...tail.map(line => `${label}: ${line}`),
      ].join('\n'),
    },
  };
}

function stoppedOutcome(signal: AbortSignal): RunOutcome | undefined {
  if (!signal.aborted) return undefined;
  return signal.reason === 'TIMEOUT'
    ? {status: 'TIMEOUT', statusDetail: 'Build timeout'}
    : {status: 'CANCELLED', statusDetail: 'Build was cancelled.'};
}

/** `docker push` of every `images` entry (after the steps, as Cloud Build does), with its digest. */
async function pushImages(
  workspace: string,
  env: Record<string, string>,
  stepOutputs: Buffer[],
  options: RunBuildOptions,
): Promise<RunOutcome> {
  const pushed: PushedImage[] = [];
  for (const name of stringListField(options.request, 'images').map(image =>
    applySubstitutions(image, options.substitutions),
  )) {
    const startTime = new Date();
    const result = await runProcess('docker', ['push', name], {
      cwd: workspace,
      env,
      signal: options.signal,
      log: line => options.log(`Pushing ${name}: ${line}`),
    });
    if (result.aborted) return stoppedOutcome(options.signal)!;
    const digest = result.output
      .map(line => /digest: (sha256:[0-9a-f]{64})/.exec(line)?.[1])
      .find(found => found !== undefined);
    if (result.code !== 0 || !digest) {
      const detail = `failed to push ${name}: ${result.tail.at(-1) ?? `docker push exited ${result.code}`}`;
      return {
        status: 'FAILURE',
        statusDetail: detail,
        failureInfo: {type: 'PUSH_FAILED', detail},
      };
    }
    pushed.push({name, digest, startTime, endTime: new Date()});
  }
  return {status: 'SUCCESS', images: pushed, stepOutputs};
}

interface ProcessResult {
  code: number;
  aborted: boolean;
  /** Every line it printed (stdout and stderr, interleaved as they came). */
  output: string[];
  /** The last lines, for failure details. */
  tail: string[];
}

/** Runs one process in its own process group, so an abort stops whatever it started. */
function runProcess(
  file: string,
  args: readonly string[],
  options: {
    cwd: string;
    env: Record<string, string>;
    signal: AbortSignal;
    input?: Buffer;
    log(line: string): void;
  },
): Promise<ProcessResult> {
  return new Promise(done => {
    const output: string[] = [];
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let aborted = false;
    const abort = () => {
      aborted = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    };
    if (options.signal.aborted) abort();
    else options.signal.addEventListener('abort', abort, {once: true});
    let partial = {stdout: '', stderr: ''};
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const lines = (partial[stream] + chunk.toString('utf8')).split(/\r?\n/);
      partial = {...partial, [stream]: lines.pop() ?? ''};
      for (const line of lines) {
        output.push(line);
        options.log(line);
      }
    };
    child.stdout?.on('data', collect('stdout'));
    child.stderr?.on('data', collect('stderr'));
    if (options.input) child.stdin?.end(options.input);
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      options.signal.removeEventListener('abort', abort);
      for (const rest of [partial.stdout, partial.stderr]) {
        if (rest !== '') {
          output.push(rest);
          options.log(rest);
        }
      }
      done({
        code,
        aborted,
        output,
        tail: output
          .filter(line => line.trim() !== '')
          .slice(-FAILURE_LOG_LINES),
      });
    };
    child.on('error', error => {
      output.push(`${file}: ${error.message}`);
      finish(127);
    });
    child.on('close', code => finish(code ?? 137));
  });
}
