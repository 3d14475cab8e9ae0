/**
 * The Firestore and Pub/Sub emulators of the Google Cloud CLI, each run as
 * its own process group on a free loopback port. Used by the test harness
 * and by the local stack.
 */
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {LOOPBACK, findFreePort, waitForHttp} from './ports';
import {EmulatorToolchain, checkEmulatorPrerequisites} from './prerequisites';
import {ProcessGroup} from './process-group';

export const EmulatorKind = ['firestore', 'pubsub'] as const;
export type EmulatorKind = (typeof EmulatorKind)[number];

/** The variable the official clients read to find each emulator. */
export const EMULATOR_HOST_VARIABLE = {
  firestore: 'FIRESTORE_EMULATOR_HOST',
  pubsub: 'PUBSUB_EMULATOR_HOST',
} as const satisfies Record<EmulatorKind, string>;

export interface RunningEmulator {
  readonly kind: EmulatorKind;
  /** "127.0.0.1:PORT", the form *_EMULATOR_HOST takes. */
  readonly host: string;
  /** Process group id; every emulator process (gcloud, java) is in it. */
  readonly pgid: number;
  /** The tail of the emulator's own output, for diagnostics. */
  readonly output: string;
  /** Stops the whole process group and waits until it is gone. */
  stop(): Promise<void>;
}

export interface StartEmulatorOptions {
  /** From checkEmulatorPrerequisites(); checked here when absent. */
  readonly toolchain?: EmulatorToolchain;
  /** Fixed port; default a free one. */
  readonly port?: number;
  /** How long to wait for the emulator to answer; default 60 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
/**
 * An emulator is a local service under a light load, not a server that runs for weeks: with C1
 * alone and the serial collector its JVM spends a fraction of the CPU the defaults (C2 and a
 * parallel collector) spend compiling and collecting. Measured over the test suite on 2 cores,
 * the shared Firestore emulator went from 55 to 24 CPU-seconds. The JVM reads
 * JAVA_TOOL_OPTIONS whichever launcher gcloud uses; options the user set there come after
 * these, so theirs win.
 */
export const EMULATOR_JVM_OPTIONS = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
];

export function emulatorJvmEnvironment(
  env: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  const own = env.JAVA_TOOL_OPTIONS?.trim();
  return {
    ...env,
    JAVA_TOOL_OPTIONS: [...EMULATOR_JVM_OPTIONS, ...(own ? [own] : [])].join(
      ' ',
    ),
  };
}
/** A free port can be taken between probing and binding; try again then. */
const PORT_RACE_ATTEMPTS = 3;

export async function startEmulator(
  kind: EmulatorKind,
  options: StartEmulatorOptions = {},
): Promise<RunningEmulator> {
  const toolchain = options.toolchain ?? (await checkEmulatorPrerequisites());
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(kind, toolchain, options);
    } catch (err) {
      const retryable =
        options.port === undefined &&
        attempt < PORT_RACE_ATTEMPTS &&
        err instanceof EmulatorStartError &&
        err.portTaken;
      if (!retryable) throw err;
    }
  }
}

export class EmulatorStartError extends Error {
  constructor(
    readonly kind: EmulatorKind,
    reason: string,
    readonly output: string,
  ) {
    super(
      `The ${kind} emulator did not start: ${reason}\n` +
        `--- emulator output ---\n${output.trim() || '(none)'}\n---`,
    );
    this.name = 'EmulatorStartError';
  }

  get portTaken(): boolean {
    return /Address already in use|BindException/i.test(this.output);
  }
}

async function startOnce(
  kind: EmulatorKind,
  toolchain: EmulatorToolchain,
  options: StartEmulatorOptions,
): Promise<RunningEmulator> {
  const port = options.port ?? (await findFreePort());
  const host = `${LOOPBACK}:${port}`;
  // The Pub/Sub emulator keeps state in a data dir, shared by default; a
  // private one keeps parallel runs apart.
  const dataDir =
    kind === 'pubsub' ? mkdtempSync(join(tmpdir(), 'pubsub-emulator-')) : '';
  const args =
    kind === 'firestore'
      ? ['emulators', 'firestore', 'start', `--host-port=${host}`]
      : [
          'beta',
          'emulators',
          'pubsub',
          'start',
          `--host-port=${host}`,
          `--data-dir=${dataDir}`,
        ];
  const group = await ProcessGroup.start({
    name: `${kind} emulator`,
    command: toolchain.gcloud,
    args,
    // Never wait on an interactive prompt (e.g. "install this component?").
    env: {
      ...emulatorJvmEnvironment(process.env),
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    },
    // gcloud has it in --host-port, the JVM in --port.
    marker: String(port),
  });
  const stop = async () => {
    await group.stop();
    if (dataDir !== '') rmSync(dataDir, {recursive: true, force: true});
  };
  try {
    await waitForHttp({
      url: `http://${host}/`,
      timeoutMs: options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      // Both emulators answer "Ok" on their root; anything else on this port
      // is not our emulator.
      isReady: (status, body) => status === 200 && body.trim() === 'Ok',
      abandon: () => {
        const exit = group.exitedWith;
        if (exit === undefined) return undefined;
        return `the process exited (${exit.signal ?? `code ${exit.code}`})`;
      },
    });
  } catch (err) {
    const reason = (err as Error).message;
    await stop();
    throw new EmulatorStartError(kind, reason, group.output);
  }
  return {
    kind,
    host,
    pgid: group.pgid,
    get output() {
      return group.output;
    },
    stop,
  };
}

export type LocalEmulators = Readonly<Record<EmulatorKind, RunningEmulator>> & {
  /** Stops both; waits until no emulator process remains. */
  stop(): Promise<void>;
};

/**
 * Starts both emulators in parallel. If either fails, the other is stopped
 * before the error is thrown, so a failed start leaves nothing behind.
 */
export async function startEmulators(
  options: Omit<StartEmulatorOptions, 'port'> = {},
): Promise<LocalEmulators> {
  const toolchain = options.toolchain ?? (await checkEmulatorPrerequisites());
  const starts = EmulatorKind.map(kind =>
    startEmulator(kind, {...options, toolchain}),
  );
  const results = await Promise.allSettled(starts);
  const started = results.flatMap(r =>
    r.status === 'fulfilled' ? [r.value] : [],
  );
  const failures = results.flatMap(r =>
    r.status === 'rejected' ? [r.reason as Error] : [],
  );
  if (failures.length > 0) {
    await Promise.all(started.map(emulator => emulator.stop()));
    throw failures.length === 1
      ? failures[0]
      : new Error(failures.map(f => f.message).join('\n\n'));
  }
  const [firestore, pubsub] = started;
  return {
    firestore,
    pubsub,
    stop: async () => {
      await Promise.all(started.map(emulator => emulator.stop()));
    },
  };
}

/** The environment that points the official clients at these emulators. */
export function emulatorEnvironment(
  emulators: Readonly<Record<EmulatorKind, {readonly host: string}>>,
  projectId: string,
): Record<string, string> {
  return {
    [EMULATOR_HOST_VARIABLE.firestore]: emulators.firestore.host,
    [EMULATOR_HOST_VARIABLE.pubsub]: emulators.pubsub.host,
    GOOGLE_CLOUD_PROJECT: projectId,
  };
}

/**
 * Deletes every document of the project's default database: one HTTP call to
 * the emulator, much cheaper than restarting it.
 */
export async function resetFirestore(
  host: string,
  projectId: string,
): Promise<void> {
  const url = `http://${host}/emulator/v1/projects/${encodeURIComponent(projectId)}/databases/(default)/documents`;
  const deadline = Date.now() + RESET_PATIENCE_MS;
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url, {method: 'DELETE'});
    if (response.ok) return;
    const body = await response.text();
    // 409 ABORTED "Transaction lock timeout": a transaction left open by a process that was
    // killed holds its locks until the emulator expires it (about a minute, measured).
    if (response.status === 409 && Date.now() < deadline) {
      await sleep(RESET_RETRY_MS);
      continue;
    }
    throw new Error(
      `Resetting the Firestore emulator failed: DELETE ${url} answered ${response.status} ${body}` +
        (attempt > 1 ? ` (attempt ${attempt})` : ''),
    );
  }
}

const RESET_PATIENCE_MS = 90_000;
const RESET_RETRY_MS = 500;
