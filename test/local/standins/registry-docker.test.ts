/**
 * The Artifact Registry stand-in's images are a real registry's, as `docker` sees them: what a
 * user pushes shows in the API with the digest `docker push` printed, a push into a missing
 * repository is refused as Artifact Registry refuses it, and what the API deletes no longer pulls.
 */
import * as assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';
import {EPHEMERAL, PROJECT, useStandIns} from './fixture';
import {
  docker,
  dockerRun,
  EngineImages,
  pushedDigest,
  requireDockerEngine,
} from '../../support/docker';

const REPOSITORY = 'arr-coc-registry';
const TRAINER = `${EPHEMERAL}/packages/arr-trainer`;

/**
 * Content no engine has pulled before. Docker keeps the manifests it pulled and, pulling by
 * digest again, asks the registry only for the blobs: a deleted version must be one it never saw.
 */
const unseen = () => `never pulled before: ${randomUUID()}`;

describe('Artifact Registry stand-in images, through docker', function () {
  this.timeout(120_000);
  const f = useStandIns();
  const images = new EngineImages();
  /** `HOST/PROJECT/REPOSITORY/IMAGE` in the stand-in's registry. */
  const path = (repository: string, image: string) =>
    `${f.standIns.registry.host}/${PROJECT}/${repository}/${image}`;

  /** The trainer seeded into the ephemeral repository: its digest, and its reference by digest. */
  async function seedTrainer(tags: string[], content?: string) {
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    const {digest} = await f.standIns.artifactRegistry.seedImage(
      EPHEMERAL,
      'arr-trainer',
      tags,
      {content},
    );
    return {digest, byDigest: `${path(REPOSITORY, 'arr-trainer')}@${digest}`};
  }

  before(requireDockerEngine);
  afterEach(() => images.removeAll());

  it("shows a user's docker push in ListVersions with the digest docker push printed", async () => {
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    const reference = `${path(REPOSITORY, 'arr-trainer')}:by-hand`;
    await images.importImage(reference, 'pushed by hand');
    const digest = pushedDigest(await docker('push', reference));

    const [versions] = await f.artifactRegistry.listVersions({
      parent: TRAINER,
      view: 'FULL',
    });
    assert.deepEqual(
      versions.map(v => [v.name, v.relatedTags?.map(t => t.name)]),
      [[`${TRAINER}/versions/${digest}`, [`${TRAINER}/tags/by-hand`]]],
    );
    const [image] = await f.artifactRegistry.getDockerImage({
      name: `${EPHEMERAL}/dockerImages/arr-trainer@${digest}`,
    });
    assert.ok(Number(image.imageSizeBytes) > 0);
  });

  it('refuses a docker push into a repository that does not exist with name unknown, and stores nothing', async () => {
    const reference = `${path('arr-nowhere', 'arr-trainer')}:latest`;
    await images.importImage(reference, 'nowhere to go');
    const push = await dockerRun('push', reference);
    assert.notEqual(push.code, 0);
    assert.match(
      push.stdout + push.stderr,
      /name unknown: Repository "arr-nowhere" not found/,
    );
    const catalog = (await (
      await fetch(`http://${f.standIns.registry.host}/v2/_catalog`)
    ).json()) as {repositories: string[]};
    assert.deepEqual(
      catalog.repositories.filter(name => name.includes('arr-nowhere')),
      [],
    );
  });

  it('DeleteVersion deletes the manifest: a pull by digest then fails with manifest unknown', async () => {
    const {digest, byDigest} = await seedTrainer(['latest'], unseen());
    const [operation] = await f.artifactRegistry.deleteVersion({
      name: `${TRAINER}/versions/${digest}`,
      force: true,
    });
    await operation.promise();
    const pull = await images.pull(byDigest);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /manifest unknown/);
  });

  it('DeleteRepository deletes its images: a pull then fails', async () => {
    const {byDigest} = await seedTrainer(['latest'], unseen());
    const [operation] = await f.artifactRegistry.deleteRepository({
      name: EPHEMERAL,
    });
    await operation.promise();
    const pull = await images.pull(byDigest);
    assert.notEqual(pull.code, 0);
    assert.match(
      pull.stderr,
      /name unknown: Repository "arr-coc-registry" not found/,
    );
  });

  it('DeleteTag deletes only the tag: the version still pulls by digest', async () => {
    const {byDigest} = await seedTrainer(['v1']);
    await f.artifactRegistry.deleteTag({name: `${TRAINER}/tags/v1`});
    const byTag = await images.pull(`${path(REPOSITORY, 'arr-trainer')}:v1`);
    assert.notEqual(byTag.code, 0);
    assert.match(byTag.stderr, /manifest unknown|not found/);
    const pulled = await images.pull(byDigest);
    assert.equal(pulled.code, 0, pulled.stderr);
  });

  it('docker pull, tag and push into another repository keep the digest (the manual migration)', async () => {
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    f.standIns.artifactRegistry.seedRepository(`${EPHEMERAL}-persistent`);
    const {digest} = await f.standIns.artifactRegistry.seedImage(
      EPHEMERAL,
      'arr-pytorch-base',
      ['latest'],
    );
    const source = `${path(REPOSITORY, 'arr-pytorch-base')}@${digest}`;
    assert.equal((await images.pull(source)).code, 0);
    const copy = images.track(
      `${path(`${REPOSITORY}-persistent`, 'arr-pytorch-base')}:0123456789ab`,
    );
    await docker('tag', source, copy);
    assert.equal(pushedDigest(await docker('push', copy)), digest);
    const [tag] = await f.artifactRegistry.getTag({
      name: `${EPHEMERAL}-persistent/packages/arr-pytorch-base/tags/0123456789ab`,
    });
    assert.equal(
      tag.version,
      `${EPHEMERAL}-persistent/packages/arr-pytorch-base/versions/${digest}`,
    );
  });
});
