/**
 * `npm run deploy -- --project P [--region R] [--dry-run] ...`
 *
 * Deploys the control plane to a Google Cloud project with gcloud (deploy/run-deploy.ts):
 * this file gives it the process's arguments, output, environment and gcloud on PATH.
 * Re-running changes nothing that is already in place.
 */
import * as path from 'node:path';
import {spawnExec} from './gcloud-runner';
import {runDeploy} from './run-deploy';

/** The compiled tree this file is in: build-deploy/ under npm run deploy (scripts/deploy.js). */
const COMPILED = path.resolve(__dirname, '..');
/** build-deploy/deploy/deploy-cli.js → the repository root. */
const ROOT = path.resolve(COMPILED, '..');

void runDeploy(process.argv.slice(2), {
  root: ROOT,
  compiled: COMPILED,
  exec: spawnExec(ROOT),
  stdout: text => process.stdout.write(text),
  stderr: text => process.stderr.write(text),
  env: process.env,
}).then(code => {
  process.exitCode = code;
});
