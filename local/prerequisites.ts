/**
 * Checks, before anything starts, that this machine can run the Firestore
 * and Pub/Sub emulators, and says how to fix it when it cannot. Fast: it
 * looks at the filesystem instead of asking `gcloud components list`.
 */
import {execFile} from 'node:child_process';
import {accessSync, constants, existsSync, realpathSync} from 'node:fs';
import {delimiter, dirname, join} from 'node:path';
import {promisify} from 'node:util';

const execFileAsync = promisify(execFile);

export const MINIMUM_JAVA_MAJOR = 17;

/** Emulator components, as `gcloud components` names them, with their SDK folder. */
export const EMULATOR_COMPONENTS = [
  {
    component: 'cloud-firestore-emulator',
    aptPackage: 'google-cloud-cli-firestore-emulator',
    label: 'Firestore emulator',
  },
  {
    component: 'pubsub-emulator',
    aptPackage: 'google-cloud-cli-pubsub-emulator',
    label: 'Pub/Sub emulator',
  },
] as const;

export const INSTALL_HELP = [
  'Install the emulators with the Google Cloud CLI:',
  `  gcloud components install ${EMULATOR_COMPONENTS.map(c => c.component).join(' ')}`,
  'or, where the Google Cloud CLI was installed with apt:',
  `  sudo apt-get install ${EMULATOR_COMPONENTS.map(c => c.aptPackage).join(' ')}`,
  `and Java ${MINIMUM_JAVA_MAJOR} or newer (e.g. sudo apt-get install openjdk-${MINIMUM_JAVA_MAJOR}-jre-headless).`,
].join('\n');

export interface EmulatorToolchain {
  /** Absolute path of the `gcloud` executable. */
  readonly gcloud: string;
  /** Google Cloud SDK installation root, e.g. /usr/lib/google-cloud-sdk. */
  readonly sdkRoot: string;
  readonly javaMajorVersion: number;
}

export interface PrerequisiteOptions {
  /** Environment whose PATH is searched; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** SDK root to inspect instead of the one `gcloud` belongs to. */
  readonly sdkRoot?: string;
}

export class MissingPrerequisiteError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      [
        'The Firestore and Pub/Sub emulators cannot run on this machine:',
        ...problems.map(problem => `  ✗ ${problem}`),
        INSTALL_HELP,
      ].join('\n'),
    );
    this.name = 'MissingPrerequisiteError';
  }
}

/**
 * Resolves the toolchain, or throws MissingPrerequisiteError listing every
 * missing piece at once (not just the first) with the install commands.
 */
export async function checkEmulatorPrerequisites(
  options: PrerequisiteOptions = {},
): Promise<EmulatorToolchain> {
  const env = options.env ?? process.env;
  const problems: string[] = [];

  const gcloud = findExecutable('gcloud', env);
  let sdkRoot = options.sdkRoot;
  if (gcloud === undefined) {
    problems.push('gcloud (Google Cloud CLI) is not on PATH');
  } else if (sdkRoot === undefined) {
    sdkRoot = await findSdkRoot(gcloud, env);
  }
  if (sdkRoot !== undefined) {
    for (const {component, label} of EMULATOR_COMPONENTS) {
      const folder = join(sdkRoot, 'platform', component);
      if (!existsSync(folder)) {
        problems.push(`${label} is not installed (no ${folder})`);
      }
    }
  }

  const java = await javaMajorVersion(env);
  if (typeof java === 'string') {
    problems.push(java);
  } else if (java < MINIMUM_JAVA_MAJOR) {
    problems.push(
      `Java ${java} found; the emulators need Java ${MINIMUM_JAVA_MAJOR} or newer`,
    );
  }

  if (problems.length > 0 || gcloud === undefined || sdkRoot === undefined) {
    throw new MissingPrerequisiteError(problems);
  }
  return {gcloud, sdkRoot, javaMajorVersion: java as number};
}

/** First executable called `name` on env.PATH, like `which`. */
export function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv,
): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * The SDK root is normally two levels above the real gcloud script
 * (<root>/bin/gcloud, with /usr/bin/gcloud a symlink to it). Only when that
 * layout does not hold is gcloud itself asked, which costs about half a second.
 */
async function findSdkRoot(
  gcloud: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const fromLayout = dirname(dirname(realpathSync(gcloud)));
  if (existsSync(join(fromLayout, 'lib', 'gcloud.py'))) return fromLayout;
  const {stdout} = await execFileAsync(
    gcloud,
    ['info', '--format=value(installation.sdk_root)'],
    {env},
  );
  return stdout.trim();
}

/** Major version of `java` on PATH, or a sentence saying what is wrong. */
async function javaMajorVersion(
  env: NodeJS.ProcessEnv,
): Promise<number | string> {
  const java = findExecutable('java', env);
  if (java === undefined) return 'java is not on PATH';
  try {
    // `java -version` prints to stderr, e.g. openjdk version "17.0.15" or "1.8.0_392".
    const {stdout, stderr} = await execFileAsync(java, ['-version'], {env});
    const version = /version "(\d+)(?:\.(\d+))?/.exec(stderr + stdout);
    if (version === null) {
      return `could not read the Java version from: ${stderr.trim()}`;
    }
    const major = Number(version[1]);
    return major === 1 ? Number(version[2]) : major;
  } catch (err) {
    return `${java} -version failed: ${(err as Error).message}`;
  }
}
