/**
 * The Cloud Build stand-in with a Docker engine: builds run their steps for real. Needs
 * dockerd (it fails, never skips, without one).
 */
import * as assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {grpc} from 'google-gax';
import {CloudBuildClient, protos} from '@google-cloud/cloudbuild';
import {
  MemoryNotificationSink,
  type RunningStandIns,
  standInClientOptions,
  startStandIns,
} from '../../../local/standins';
import {DOCKER_BUILDER} from '../../../local/standins/build-runner';
import {requireDockerEngine} from '../../support/docker';
import {metadataBuild, rejectionCode} from './fixture';

const PROJECT = 'arr-test-project';
const Status = protos.google.devtools.cloudbuild.v1.Build.Status;
type IBuild = protos.google.devtools.cloudbuild.v1.IBuild;

function statusName(status: IBuild['status']): string | undefined {
  return typeof status === 'number' ? Status[status] : (status ?? undefined);
}

describe('Cloud Build stand-in, real builds on the Docker engine', function () {
  this.timeout(120_000);
  let standIns: RunningStandIns;
  let client: CloudBuildClient;
  let sources: string;

  before(async () => {
    const engine = await requireDockerEngine();
    sources = mkdtempSync(join(tmpdir(), 'arr-real-build-sources-'));
    standIns = await startStandIns({
      notificationSink: new MemoryNotificationSink(),
      buildDurations: {queuedMs: 10},
      engine,
      // Each object is a folder under `sources`, tarred as an upload would be.
      fetchSource: async ({bucket, object}) =>
        execFileSync('tar', [
          '-czf',
          '-',
          '-C',
          join(sources, bucket, object),
          '.',
        ]),
    });
    client = new CloudBuildClient(
      standInClientOptions(standIns.endpoints.cloudBuild, PROJECT),
    );
  });
  after(async () => {
    await client?.close();
    await standIns?.stop();
    rmSync(sources, {recursive: true, force: true});
  });
  beforeEach(() => standIns.reset());

  /** A source folder holding `files`, as gs://bucket/<name>. */
  function source(name: string, files: Record<string, string>) {
    const folder = join(sources, 'bucket', name);
    mkdirSync(folder, {recursive: true});
    for (const [file, text] of Object.entries(files)) {
      writeFileSync(join(folder, file), text);
    }
    return {storageSource: {bucket: 'bucket', object: name}};
  }

  async function run(build: IBuild) {
    const [operation] = await client.createBuild({projectId: PROJECT, build});
    const id = metadataBuild(operation).id!;
    await standIns.cloudBuild.whenFinished(id);
    const [finished] = await client.getBuild({projectId: PROJECT, id});
    return {id, build: finished};
  }

  it('runs bash steps in the workspace with the source and the substitutions applied', async () => {
    const {id, build} = await run({
      source: source('hello', {'greeting.txt': 'hello from the source'}),
      steps: [
        {
          id: 'read',
          name: DOCKER_BUILDER,
          entrypoint: 'bash',
          args: [
            '-c',
            'cat greeting.txt && echo " $_WHO in $PROJECT_ID costs $$((2 + 3))" && docker --version && echo "for the record" > $$BUILDER_OUTPUT/output',
          ],
        },
      ],
      substitutions: {_WHO: 'arr'},
    });
    assert.equal(statusName(build.status), 'SUCCESS');
    const log = standIns.cloudBuild.buildLog(id).join('\n');
    assert.match(
      log,
      /Step #0 - "read": hello from the source arr in arr-test-project costs 5$/m,
    );
    // The docker on a bash step's PATH is the one the builder runs (Debian's 20.10 here).
    assert.match(log, /Step #0 - "read": Docker version \d+\.\d+/);
    assert.equal(statusName(build.steps?.[0].status), 'SUCCESS');
    // What a step writes to $BUILDER_OUTPUT/output comes back in results.buildStepOutputs.
    assert.equal(
      Buffer.from(build.results?.buildStepOutputs?.[0] ?? []).toString('utf8'),
      'for the record\n',
    );
    assert.ok(build.steps?.[0].timing?.startTime, 'the step has a start time');
    assert.ok(build.timing?.BUILD?.endTime, 'the build has a BUILD timing');
  });

  it('fails the build at a failing step, with the end of its log in failureInfo, and runs no later step', async () => {
    const {build, id} = await run({
      steps: [
        {
          id: 'ok',
          name: DOCKER_BUILDER,
          entrypoint: 'bash',
          args: ['-c', 'echo first'],
        },
        {
          id: 'broken',
          name: DOCKER_BUILDER,
          entrypoint: 'bash',
          args: [
            '-c',
            'echo "pip: no matching distribution for torch==9.9" >&2; exit 3',
          ],
        },
        {
          id: 'never',
          name: DOCKER_BUILDER,
          entrypoint: 'bash',
          args: ['-c', 'echo never ran'],
        },
      ],
    });
    assert.equal(statusName(build.status), 'FAILURE');
    assert.match(
      build.failureInfo?.detail ?? '',
      /build step 1 "gcr\.io\/cloud-builders\/docker" failed: step exited with non-zero status: 3/,
    );
    assert.match(
      build.failureInfo?.detail ?? '',
      /no matching distribution for torch==9\.9/,
    );
    assert.deepEqual(
      build.steps?.map(step => statusName(step.status as IBuild['status'])),
      ['SUCCESS', 'FAILURE', 'QUEUED'],
    );
    assert.doesNotMatch(
      standIns.cloudBuild.buildLog(id).join('\n'),
      /never ran/,
    );
  });

  it('a step with another builder fails the build and says what the local Cloud Build runs', async () => {
    const {build} = await run({
      steps: [
        {
          name: 'gcr.io/google.com/cloudsdktool/google-cloud-cli:slim',
          args: ['gcloud', 'version'],
        },
      ],
    });
    assert.equal(statusName(build.status), 'FAILURE');
    assert.match(
      build.failureInfo?.detail ?? '',
      /the local Cloud Build runs gcr\.io\/cloud-builders\/docker steps only .*"gcr\.io\/google\.com\/cloudsdktool\/google-cloud-cli:slim" is not run here/,
    );
  });

  it("the build's timeout gives TIMEOUT and stops the running step", async () => {
    const started = Date.now();
    const {build, id} = await run({
      steps: [
        {
          name: DOCKER_BUILDER,
          entrypoint: 'bash',
          args: ['-c', 'sleep 30; echo woke'],
        },
      ],
      timeout: {seconds: 1},
    });
    assert.equal(statusName(build.status), 'TIMEOUT');
    assert.ok(
      Date.now() - started < 15_000,
      'the step was stopped, not waited for',
    );
    assert.doesNotMatch(standIns.cloudBuild.buildLog(id).join('\n'), /woke/);
  });

  it('CancelBuild stops a running build: CANCELLED', async () => {
    const [operation] = await client.createBuild({
      projectId: PROJECT,
      build: {
        steps: [
          {
            name: DOCKER_BUILDER,
            entrypoint: 'bash',
            args: ['-c', 'echo started; sleep 30'],
          },
        ],
      },
    });
    const id = metadataBuild(operation).id!;
    const deadline = Date.now() + 20_000;
    while (
      !standIns.cloudBuild.buildLog(id).some(line => /started/.test(line))
    ) {
      assert.ok(Date.now() < deadline, 'the step started');
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    await client.cancelBuild({projectId: PROJECT, id});
    assert.equal(await standIns.cloudBuild.whenFinished(id), 'CANCELLED');
  });

  it('refuses at CreateBuild a substitution Cloud Build cannot resolve, and starts nothing', async () => {
    const refused = await rejectionCode(
      client.createBuild({
        projectId: PROJECT,
        build: {
          steps: [
            {name: DOCKER_BUILDER, args: ['build', '--tag=$_MISSING', '.']},
          ],
        },
      }),
    );
    assert.equal(refused, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(standIns.cloudBuild.buildIds(), []);
  });
});
