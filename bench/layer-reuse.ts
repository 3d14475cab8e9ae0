/**
 * What a key change costs with the layer cache: the example base built cold, then rebuilt after
 * a change below its expensive layer, on a worker that kept nothing (the engine's images and its
 * build cache removed, as a fresh Cloud Build worker has them), with the layer cache imported from
 * the registry. The expensive layer is a stated sleep (`--layer-seconds`, default 20 s) in place
 * of compiling PyTorch.
 */
import {execFile} from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {promisify} from 'node:util';
import {CloudBuildClient} from '@google-cloud/cloudbuild';
import {
  MemoryNotificationSink,
  standInClientOptions,
  startStandIns,
} from '../local/standins';
import {
  freshWorker,
  probeDockerEngine,
  removeEngineImages,
} from '../local/standins/docker-engine';
import {ensureExampleRootImage} from '../local/standins/example-root-image';
import {imageCatalog} from '../shared/catalog';
import {loadConfig} from '../shared/config';
import {renderImageBuild} from '../shared/image-build';
import {type LayerReport, parseLayerReport} from '../shared/layer-report';

const run = promisify(execFile);
const PROJECT = 'arr-bench';
const BASE = 'arr-pytorch-base';
const EXAMPLE_BASE = resolve(
  __dirname,
  '..',
  '..',
  'examples',
  'training',
  'images',
  BASE,
);

export type LayerReuse =
  | {
      measured: true;
      layerSeconds: number;
      coldSeconds: number;
      rebuildSeconds: number;
      /** rebuild / cold. */
      ratio: number;
      rebuild: LayerReport;
      engine: string;
    }
  | {measured: false; reason: string};

export async function measureLayerReuse(
  layerSeconds = 20,
): Promise<LayerReuse> {
  const probe = await probeDockerEngine();
  if (!probe.ok)
    return {measured: false, reason: `no Docker engine: ${probe.reason}`};
  const engine = probe.engine;
  await ensureExampleRootImage(engine);
  const context = mkdtempSync(join(tmpdir(), 'arr-bench-layers-'));
  cpSync(EXAMPLE_BASE, context, {recursive: true});
  writeFileSync(
    join(context, 'build-torch.sh'),
    `#!/bin/sh\n# The expensive layer: a stated ${layerSeconds} s sleep stands for compiling PyTorch.\nsleep ${layerSeconds}\nmkdir -p /opt/torch && echo "torch (bench build)" > /opt/torch/VERSION\n`,
  );
  const standIns = await startStandIns({
    notificationSink: new MemoryNotificationSink(),
    buildDurations: {queuedMs: 0},
    engine,
    fetchSource: async () =>
      (
        await run('tar', ['-czf', '-', '-C', context, '.'], {
          encoding: 'buffer',
          maxBuffer: 64 << 20,
        })
      ).stdout,
  });
  const client = new CloudBuildClient(
    standInClientOptions(standIns.endpoints.cloudBuild, PROJECT),
  );
  const registryHost = standIns.registry.host;
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    REGISTRY_HOST: registryHost,
  });
  standIns.artifactRegistry.seedRepository(
    `projects/${PROJECT}/locations/${config.region}/repositories/${config.persistentRepository}`,
  );
  const image = imageCatalog().get(BASE)!;
  const build = async (key: string) => {
    await freshWorker(engine, registryHost);
    const started = Date.now();
    const [operation] = await client.createBuild({
      projectId: PROJECT,
      build: renderImageBuild(config, {
        image,
        repository: config.persistentRepository,
        key,
        source: 'gs://arr-bench-contexts/base.tar.gz',
        attempt: 1,
      }),
    });
    const id = (operation.metadata as {build?: {id?: string}}).build?.id ?? '';
    const status = await standIns.cloudBuild.whenFinished(id);
    const seconds = (Date.now() - started) / 1000;
    if (status !== 'SUCCESS') {
      throw new Error(
        `the bench build ended ${status}: ${standIns.cloudBuild.buildLog(id).slice(-10).join('\n')}`,
      );
    }
    const [finished] = await client.getBuild({projectId: PROJECT, id});
    const output = finished.results?.buildStepOutputs?.[0];
    return {
      seconds,
      report: parseLayerReport(Buffer.from(output ?? []).toString('utf8')),
    };
  };
  try {
    const cold = await build('0000000000c0');
    appendFileSync(join(context, 'requirements.txt'), 'einops==0.8.0\n');
    const rebuild = await build('0000000000c1');
    if (!rebuild.report) throw new Error('the rebuild wrote no layer report');
    return {
      measured: true,
      layerSeconds,
      coldSeconds: cold.seconds,
      rebuildSeconds: rebuild.seconds,
      ratio: rebuild.seconds / cold.seconds,
      rebuild: rebuild.report,
      engine: `Docker Engine ${engine.serverVersion}`,
    };
  } finally {
    await client.close();
    await standIns.stop();
    await removeEngineImages(engine, registryHost);
    rmSync(context, {recursive: true, force: true});
  }
}
