/**
 * Runs gcloud commands through the Google Cloud CLI installed on this machine, offline and
 * without credentials, to learn whether gcloud accepts their arguments (see
 * gcloud-outcome.ts for how an ending is read).
 *
 * Isolation: a fresh CLOUDSDK_CONFIG (no account, no properties), prompts off, usage
 * reporting and update checks off, HOME in a temporary folder. The one lookup gcloud makes
 * on its own, "is this a GCE VM?" (a DNS query for metadata.google.internal), is answered
 * by seeding the config's `gce` cache file with False, and any HTTP request would go to a
 * proxy on a closed local port: no command reaches the network.
 *
 * Speed: `gcloud` imports the whole SDK at every start (about a second of CPU), so the
 * commands are run by gcloud-parse-driver.py, which starts the SDK's CLI once per worker
 * and executes each command on it, as the `gcloud` launcher itself does.
 */
import {spawn, spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {GcloudResult} from './gcloud-outcome';
import {FIXTURES, ROOT} from './helpers';

const DRIVER = path.join(FIXTURES, 'gcloud-parse-driver.py');

export const INSTALL_GCLOUD =
  'The deploy tests run every planned command through the real Google Cloud CLI, and it was not found.\n' +
  'Install it (https://cloud.google.com/sdk/docs/install; on Debian/Ubuntu: `apt-get install google-cloud-cli`) ' +
  'so that `gcloud` is on PATH, then run the tests again.';

export interface GcloudInstallation {
  version: string;
  sdkRoot: string;
  python: string;
}

export interface OfflineGcloud {
  installation: GcloudInstallation;
  /** Runs each argv (the arguments after `gcloud`) and returns its result, in order. */
  run(commands: ReadonlyArray<readonly string[]>): Promise<GcloudResult[]>;
  /** The same, one `gcloud` process per command: the binary as a user runs it. */
  runBinary(argv: readonly string[]): GcloudResult;
  dispose(): void;
}

function isolatedEnvironment(home: string): NodeJS.ProcessEnv {
  const config = fs.mkdtempSync(path.join(home, 'cloudsdk-'));
  // gcloud reads "False" here instead of asking the metadata server (see gce_cache.py).
  fs.writeFileSync(path.join(config, 'gce'), 'False');
  const closedPort = 'http://127.0.0.1:9';
  return {
    PATH: process.env.PATH,
    HOME: home,
    LANG: 'C.UTF-8',
    CLOUDSDK_CONFIG: config,
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
    CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
    HTTPS_PROXY: closedPort,
    HTTP_PROXY: closedPort,
    https_proxy: closedPort,
    http_proxy: closedPort,
  };
}

function findInstallation(env: NodeJS.ProcessEnv): GcloudInstallation {
  const info = spawnSync('gcloud', ['info', '--format=json'], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (info.error !== undefined || info.status !== 0) {
    const why = info.error?.message ?? info.stderr.trim().split('\n').pop();
    throw new Error(`${INSTALL_GCLOUD}\n(gcloud info: ${why})`);
  }
  const parsed = JSON.parse(info.stdout) as {
    basic?: {version?: string; python_location?: string};
    installation?: {sdk_root?: string};
  };
  const sdkRoot = parsed.installation?.sdk_root;
  const python = parsed.basic?.python_location;
  if (sdkRoot === undefined || python === undefined) {
    throw new Error(
      `gcloud info did not say where the SDK and its Python are: ${info.stdout.slice(0, 300)}`,
    );
  }
  return {version: parsed.basic?.version ?? 'unknown', sdkRoot, python};
}

function runWorker(
  installation: GcloudInstallation,
  env: NodeJS.ProcessEnv,
  commands: ReadonlyArray<readonly string[]>,
): Promise<GcloudResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(installation.python, [DRIVER, installation.sdkRoot], {
      cwd: ROOT, // relative paths in the plan (--inline-config, --source) are from the root
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', code => {
      const lines = stdout.split('\n').filter(Boolean);
      if (code !== 0 || lines.length !== commands.length) {
        reject(
          new Error(
            `gcloud-parse-driver.py exited ${code} after ${lines.length} of ${commands.length} commands:\n${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      resolve(lines.map(l => JSON.parse(l) as GcloudResult));
    });
    child.stdin.end(commands.map(c => JSON.stringify(c)).join('\n') + '\n');
  });
}

/** Fails, with how to install it, when gcloud is not on PATH. */
export function offlineGcloud(workers = 2): OfflineGcloud {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-gcloud-'));
  const installation = findInstallation(isolatedEnvironment(home));
  return {
    installation,
    async run(commands) {
      // Round-robin over the workers, each with its own config folder.
      const shares = Array.from({length: workers}, (_, w) =>
        commands.flatMap((c, i) => (i % workers === w ? [c] : [])),
      );
      const results = await Promise.all(
        shares.map(share =>
          runWorker(installation, isolatedEnvironment(home), share),
        ),
      );
      return commands.map(
        (_, i) => results[i % workers][Math.floor(i / workers)],
      );
    },
    runBinary(argv) {
      const result = spawnSync('gcloud', [...argv], {
        cwd: ROOT,
        env: isolatedEnvironment(home),
        encoding: 'utf8',
        timeout: 60_000,
      });
      return {exitCode: result.status ?? 1, stderr: result.stderr ?? ''};
    },
    dispose() {
      fs.rmSync(home, {recursive: true, force: true});
    },
  };
}
