import * as assert from 'node:assert/strict';
import {grpc} from 'google-gax';
import {ArtifactRegistryClient, protos} from '@google-cloud/artifact-registry';
import {standInClientOptions} from '../../../local/standins';
import {
  EPHEMERAL,
  PARENT,
  PERSISTENT,
  PROJECT,
  rejectionCode,
  useStandIns,
} from './fixture';

const TRAINER = `${EPHEMERAL}/packages/arr-trainer`;

describe('Artifact Registry stand-in', () => {
  const f = useStandIns();

  async function createRepository(
    repositoryId: string,
    labels: Record<string, string> = {},
  ) {
    const [operation] = await f.artifactRegistry.createRepository({
      parent: PARENT,
      repositoryId,
      repository: {
        format: 'DOCKER',
        description: `${repositoryId} images`,
        labels,
      },
    });
    const [repository] = await operation.promise();
    return repository;
  }

  describe('repositories', () => {
    it('creates a repository through a finished operation that decodes to the Repository', async () => {
      const [operation] = await f.artifactRegistry.createRepository({
        parent: PARENT,
        repositoryId: 'arr-coc-registry',
        repository: {format: 'DOCKER', labels: {'arr-lifecycle': 'ephemeral'}},
      });
      assert.equal(operation.done, true);
      assert.match(
        operation.name ?? '',
        /^projects\/arr-test-project\/locations\/us-central1\/operations\//,
      );
      const [repository] = await operation.promise();
      assert.equal(repository.name, EPHEMERAL);
      assert.equal(
        repository.format,
        protos.google.devtools.artifactregistry.v1.Repository.Format.DOCKER,
      );
      assert.deepEqual(repository.labels, {'arr-lifecycle': 'ephemeral'});
      assert.equal(
        repository.registryUri,
        `${f.standIns.artifactRegistry.registryHost}/arr-test-project/arr-coc-registry`,
        'where docker push reaches it: the stand-in registry',
      );
      assert.ok(repository.createTime?.seconds, 'createTime is set');
    });

    it('serves GetOperation for an operation it returned', async () => {
      const [operation] = await f.artifactRegistry.createRepository({
        parent: PARENT,
        repositoryId: 'arr-coc-registry',
        repository: {format: 'DOCKER'},
      });
      const checked = await f.artifactRegistry.checkCreateRepositoryProgress(
        operation.name ?? '',
      );
      assert.equal(checked.done, true);
      const [repository] = await checked.promise();
      assert.equal(repository.name, EPHEMERAL);
      assert.equal(f.standIns.artifactRegistry.calls.count('GetOperation'), 1);
    });

    it('gets a repository with its size as the sum of its images', async () => {
      await createRepository('arr-coc-registry', {team: 'ml'});
      const trainer = await f.standIns.artifactRegistry.seedImage(
        EPHEMERAL,
        'arr-trainer',
        ['latest'],
      );
      const mlStack = await f.standIns.artifactRegistry.seedImage(
        EPHEMERAL,
        'arr-ml-stack',
        ['latest'],
      );
      assert.ok(trainer.sizeBytes > 0 && mlStack.sizeBytes > 0);
      const [repository] = await f.artifactRegistry.getRepository({
        name: EPHEMERAL,
      });
      assert.equal(repository.description, 'arr-coc-registry images');
      assert.deepEqual(repository.labels, {team: 'ml'});
      assert.equal(
        Number(repository.sizeBytes),
        trainer.sizeBytes + mlStack.sizeBytes,
      );
    });

    it('answers ALREADY_EXISTS when the repository exists', async () => {
      await createRepository('arr-coc-registry');
      const code = await rejectionCode(createRepository('arr-coc-registry'));
      assert.equal(code, grpc.status.ALREADY_EXISTS);
    });

    it('refuses a repository id the project already uses in another location: the local registry has one namespace per project', async () => {
      await createRepository('arr-coc-registry');
      const refused = f.artifactRegistry.createRepository({
        parent: `projects/${PROJECT}/locations/europe-west4`,
        repositoryId: 'arr-coc-registry',
        repository: {format: 'DOCKER'},
      });
      await assert.rejects(refused, {
        code: grpc.status.FAILED_PRECONDITION,
        message:
          /already exists in location us-central1 .*one namespace per project/,
      });
    });

    it('answers NOT_FOUND for a missing repository, on get and on delete', async () => {
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.getRepository({name: EPHEMERAL}),
        ),
        grpc.status.NOT_FOUND,
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.deleteRepository({name: EPHEMERAL}),
        ),
        grpc.status.NOT_FOUND,
      );
    });

    it('answers INVALID_ARGUMENT for a bad repository id, a bad name or a missing format', async () => {
      assert.equal(
        await rejectionCode(createRepository('Arr_Registry')),
        grpc.status.INVALID_ARGUMENT,
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.getRepository({name: 'arr-coc-registry'}),
        ),
        grpc.status.INVALID_ARGUMENT,
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.createRepository({
            parent: PARENT,
            repositoryId: 'ok-id',
            repository: {},
          }),
        ),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    it('compares repository names exactly: the ephemeral name is a prefix of the persistent one', async () => {
      await createRepository('arr-coc-registry-persistent');
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.getRepository({name: EPHEMERAL}),
        ),
        grpc.status.NOT_FOUND,
      );
      const [repository] = await f.artifactRegistry.getRepository({
        name: PERSISTENT,
      });
      assert.equal(repository.name, PERSISTENT);
    });

    it('lists repositories page by page', async () => {
      for (const id of ['repo-a', 'repo-b', 'repo-c', 'repo-d', 'repo-e'])
        await createRepository(id);
      const [first, , firstResponse] =
        await f.artifactRegistry.listRepositories(
          {parent: PARENT, pageSize: 2},
          {autoPaginate: false},
        );
      assert.deepEqual(
        first.map(r => r.name?.split('/').pop()),
        ['repo-a', 'repo-b'],
      );
      assert.ok(firstResponse?.nextPageToken);
      const [second] = await f.artifactRegistry.listRepositories(
        {
          parent: PARENT,
          pageSize: 2,
          pageToken: firstResponse?.nextPageToken ?? '',
        },
        {autoPaginate: false},
      );
      assert.deepEqual(
        second.map(r => r.name?.split('/').pop()),
        ['repo-c', 'repo-d'],
      );
      const all: string[] = [];
      for await (const repository of f.artifactRegistry.listRepositoriesAsync({
        parent: PARENT,
        pageSize: 2,
      })) {
        all.push(repository.name ?? '');
      }
      assert.equal(all.length, 5);
      assert.equal(
        f.standIns.artifactRegistry.calls.count('ListRepositories'),
        2 + 3,
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.listRepositories(
            {parent: PARENT, pageToken: 'garbage'},
            {autoPaginate: false},
          ),
        ),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    it('adds a missing label with an update mask and leaves the description alone', async () => {
      await createRepository('arr-coc-registry', {team: 'ml'});
      const [updated] = await f.artifactRegistry.updateRepository({
        repository: {
          name: EPHEMERAL,
          labels: {team: 'ml', 'arr-lifecycle': 'ephemeral'},
          description: 'ignored',
        },
        updateMask: {paths: ['labels']},
      });
      assert.deepEqual(updated.labels, {
        team: 'ml',
        'arr-lifecycle': 'ephemeral',
      });
      assert.equal(updated.description, 'arr-coc-registry images');
      const [read] = await f.artifactRegistry.getRepository({name: EPHEMERAL});
      assert.deepEqual(read.labels, {team: 'ml', 'arr-lifecycle': 'ephemeral'});
    });

    it('refuses an update mask path it does not support', async () => {
      await createRepository('arr-coc-registry');
      const code = await rejectionCode(
        f.artifactRegistry.updateRepository({
          repository: {name: EPHEMERAL, format: 'MAVEN'},
          updateMask: {paths: ['format']},
        }),
      );
      assert.equal(code, grpc.status.INVALID_ARGUMENT);
    });

    it('deletes a repository and its images through a finished operation', async () => {
      await createRepository('arr-coc-registry');
      await f.standIns.artifactRegistry.seedImage(EPHEMERAL, 'arr-trainer', [
        'latest',
      ]);
      const [operation] = await f.artifactRegistry.deleteRepository({
        name: EPHEMERAL,
      });
      assert.equal(operation.done, true);
      await operation.promise();
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.getRepository({name: EPHEMERAL}),
        ),
        grpc.status.NOT_FOUND,
      );
      await createRepository('arr-coc-registry');
      const [images] = await f.artifactRegistry.listDockerImages({
        parent: EPHEMERAL,
      });
      assert.deepEqual(images, []);
    });
  });

  describe('images, packages, versions and tags', () => {
    let digest: string;
    let older: string;
    let sizeBytes: number;

    beforeEach(async () => {
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      older = (
        await f.standIns.artifactRegistry.seedImage(
          EPHEMERAL,
          'arr-trainer',
          ['0123456789ab'],
          {uploadTime: new Date('2024-05-01T10:00:00Z')},
        )
      ).digest;
      const newer = await f.standIns.artifactRegistry.seedImage(
        EPHEMERAL,
        'arr-trainer',
        ['abcdefabcdef', 'latest'],
        {uploadTime: new Date('2024-05-02T10:00:00Z')},
      );
      digest = newer.digest;
      sizeBytes = newer.sizeBytes;
    });

    it('lists docker images shaped as the real API returns them', async () => {
      const [images] = await f.artifactRegistry.listDockerImages({
        parent: EPHEMERAL,
      });
      assert.equal(images.length, 2);
      const latest = images.find(image => image.tags?.includes('latest'));
      assert.equal(
        latest?.name,
        `${EPHEMERAL}/dockerImages/arr-trainer@${digest}`,
      );
      assert.equal(
        latest?.uri,
        `${f.standIns.artifactRegistry.registryHost}/${PROJECT}/arr-coc-registry/arr-trainer@${digest}`,
        'the uri docker pulls: on the stand-in registry',
      );
      assert.deepEqual(latest?.tags, ['abcdefabcdef', 'latest']);
      assert.ok(sizeBytes > 0);
      assert.equal(Number(latest?.imageSizeBytes), sizeBytes);
      assert.equal(
        Number(latest?.uploadTime?.seconds),
        Date.parse('2024-05-02T10:00:00Z') / 1000,
      );
      assert.ok(latest?.mediaType);
      assert.ok(latest?.buildTime && latest.updateTime);
    });

    it('lists docker images page by page', async () => {
      const [page, , response] = await f.artifactRegistry.listDockerImages(
        {parent: EPHEMERAL, pageSize: 1},
        {autoPaginate: false},
      );
      assert.equal(page.length, 1);
      assert.ok(response?.nextPageToken);
    });

    it('lists the package, its versions and its tags', async () => {
      const [packages] = await f.artifactRegistry.listPackages({
        parent: EPHEMERAL,
      });
      assert.deepEqual(
        packages.map(p => [p.name, p.displayName]),
        [[TRAINER, 'arr-trainer']],
      );
      const [versions] = await f.artifactRegistry.listVersions({
        parent: TRAINER,
        view: 'FULL',
      });
      assert.deepEqual(
        versions.map(v => v.name),
        [`${TRAINER}/versions/${older}`, `${TRAINER}/versions/${digest}`],
      );
      assert.deepEqual(
        versions[1].relatedTags?.map(t => t.name),
        [`${TRAINER}/tags/abcdefabcdef`, `${TRAINER}/tags/latest`],
      );
      const [tags] = await f.artifactRegistry.listTags({parent: TRAINER});
      assert.deepEqual(
        tags.map(t => [t.name?.split('/').pop(), t.version]),
        [
          ['0123456789ab', `${TRAINER}/versions/${older}`],
          ['abcdefabcdef', `${TRAINER}/versions/${digest}`],
          ['latest', `${TRAINER}/versions/${digest}`],
        ],
      );
      const [filtered] = await f.artifactRegistry.listTags({
        parent: TRAINER,
        filter: `version="${TRAINER}/versions/${older}"`,
      });
      assert.deepEqual(
        filtered.map(t => t.name),
        [`${TRAINER}/tags/0123456789ab`],
      );
    });

    it('gets a tag, and answers NOT_FOUND for a missing one', async () => {
      const [tag] = await f.artifactRegistry.getTag({
        name: `${TRAINER}/tags/latest`,
      });
      assert.equal(tag.version, `${TRAINER}/versions/${digest}`);
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.getTag({name: `${TRAINER}/tags/nope`}),
        ),
        grpc.status.NOT_FOUND,
      );
    });

    it('creates, moves and deletes a tag', async () => {
      const [created] = await f.artifactRegistry.createTag({
        parent: TRAINER,
        tagId: 'stable',
        tag: {version: `${TRAINER}/versions/${older}`},
      });
      assert.equal(created.name, `${TRAINER}/tags/stable`);
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.createTag({
            parent: TRAINER,
            tagId: 'stable',
            tag: {version: `${TRAINER}/versions/${digest}`},
          }),
        ),
        grpc.status.ALREADY_EXISTS,
      );
      const [moved] = await f.artifactRegistry.updateTag({
        tag: {
          name: `${TRAINER}/tags/stable`,
          version: `${TRAINER}/versions/${digest}`,
        },
        updateMask: {paths: ['version']},
      });
      assert.equal(moved.version, `${TRAINER}/versions/${digest}`);
      await f.artifactRegistry.deleteTag({name: `${TRAINER}/tags/stable`});
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.deleteTag({name: `${TRAINER}/tags/stable`}),
        ),
        grpc.status.NOT_FOUND,
      );
      const [images] = await f.artifactRegistry.listDockerImages({
        parent: EPHEMERAL,
      });
      assert.ok(images.every(image => !image.tags?.includes('stable')));
    });

    it('refuses to delete a tagged version unless forced', async () => {
      const name = `${TRAINER}/versions/${digest}`;
      assert.equal(
        await rejectionCode(f.artifactRegistry.deleteVersion({name})),
        grpc.status.FAILED_PRECONDITION,
      );
      const [operation] = await f.artifactRegistry.deleteVersion({
        name,
        force: true,
      });
      await operation.promise();
      const [versions] = await f.artifactRegistry.listVersions({
        parent: TRAINER,
      });
      assert.deepEqual(
        versions.map(v => v.name),
        [`${TRAINER}/versions/${older}`],
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.getTag({name: `${TRAINER}/tags/latest`}),
        ),
        grpc.status.NOT_FOUND,
      );
    });

    it('deletes an untagged version, and answers NOT_FOUND for a missing one', async () => {
      await f.artifactRegistry.deleteTag({
        name: `${TRAINER}/tags/0123456789ab`,
      });
      const [operation] = await f.artifactRegistry.deleteVersion({
        name: `${TRAINER}/versions/${older}`,
      });
      await operation.promise();
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.deleteVersion({
            name: `${TRAINER}/versions/${older}`,
          }),
        ),
        grpc.status.NOT_FOUND,
      );
    });

    it('URL-encodes a package id that contains a slash', async () => {
      await f.standIns.artifactRegistry.seedImage(EPHEMERAL, 'team/trainer', [
        'v1',
      ]);
      const [packages] = await f.artifactRegistry.listPackages({
        parent: EPHEMERAL,
      });
      const nested = packages.find(p => p.displayName === 'team/trainer');
      assert.equal(nested?.name, `${EPHEMERAL}/packages/team%2Ftrainer`);
      const [tags] = await f.artifactRegistry.listTags({
        parent: nested?.name ?? '',
      });
      assert.deepEqual(
        tags.map(t => t.name),
        [`${EPHEMERAL}/packages/team%2Ftrainer/tags/v1`],
      );
    });
  });

  it('never looks for Google credentials when given the stand-in client options', async () => {
    const client = new ArtifactRegistryClient(
      standInClientOptions(f.standIns.endpoints.artifactRegistry, PROJECT),
    );
    let credentialLookups = 0;
    client.auth.getClient = () => {
      credentialLookups += 1;
      return Promise.reject(new Error('tests have no Google credentials'));
    };
    try {
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      const [repository] = await client.getRepository({name: EPHEMERAL});
      assert.equal(repository.name, EPHEMERAL);
      assert.equal(credentialLookups, 0);
    } finally {
      await client.close();
    }
  });
});
