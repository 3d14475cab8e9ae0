/**
 * The Docker registry the Artifact Registry stand-in runs, and the front users push to: the
 * registry starts on loopback and leaves nothing behind; the front refuses what Artifact
 * Registry refuses and passes the rest through as the registry answers it.
 */
import * as assert from 'node:assert/strict';
import {existsSync, utimesSync} from 'node:fs';
import {dirname} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {isProcessGroupAlive} from '../../../local/process-group';
import {
  type RegistryFront,
  startRegistryFront,
} from '../../../local/standins/registry-front';
import {
  type RegistryProcess,
  startRegistryProcess,
} from '../../../local/standins/registry-process';

describe('the Docker registry of the Artifact Registry stand-in', () => {
  it('starts on loopback, and stop() ends its process group and removes its storage', async () => {
    const registry = await startRegistryProcess();
    try {
      assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
      const answer = await fetch(`http://${registry.host}/v2/`);
      assert.equal(answer.status, 200);
    } finally {
      await registry.stop();
    }
    assert.equal(isProcessGroupAlive(registry.pgid), false);
    assert.equal(existsSync(registry.storageRoot), false);
    await assert.rejects(fetch(`http://${registry.host}/v2/`));
  });

  it('removes the storage a killed registry left behind when the next one starts', async () => {
    const killed = await startRegistryProcess();
    const left = dirname(killed.storageRoot);
    let next: RegistryProcess | undefined;
    try {
      process.kill(-killed.pgid, 'SIGKILL');
      while (isProcessGroupAlive(killed.pgid)) await sleep(20);
      assert.equal(existsSync(left), true, 'a SIGKILL leaves the storage');
      const longAgo = new Date(Date.now() - 3_600_000);
      utimesSync(left, longAgo, longAgo);
      next = await startRegistryProcess();
      assert.equal(existsSync(left), false);
      assert.equal(existsSync(dirname(next.storageRoot)), true);
    } finally {
      await next?.stop();
      await killed.stop();
    }
  });

  it('says how to install docker-registry when it is not on PATH', async () => {
    await assert.rejects(startRegistryProcess({PATH: '/nonexistent'}), {
      message: /not on PATH[\s\S]*sudo apt-get install docker-registry/,
    });
  });

  describe('its front', () => {
    let registry: RegistryProcess;
    let front: RegistryFront;
    before(async () => {
      registry = await startRegistryProcess();
      front = await startRegistryFront({
        backend: registry.host,
        holds: (projectId, repositoryId) =>
          projectId === 'arr-test-project' && repositoryId === 'held',
      });
    });
    after(async () => {
      await front?.stop();
      await registry?.stop();
    });

    it('refuses a name under a repository the stand-in does not hold, as Artifact Registry does', async () => {
      const answer = await fetch(
        `http://${front.host}/v2/arr-test-project/missing/arr-trainer/blobs/uploads/`,
        {method: 'POST'},
      );
      assert.equal(answer.status, 404);
      assert.deepEqual(await answer.json(), {
        errors: [
          {code: 'NAME_UNKNOWN', message: 'Repository "missing" not found'},
        ],
      });
    });

    it('passes the rest through with the Host header, so upload locations point at the front', async () => {
      assert.equal((await fetch(`http://${front.host}/v2/`)).status, 200);
      const upload = await fetch(
        `http://${front.host}/v2/arr-test-project/held/arr-trainer/blobs/uploads/`,
        {method: 'POST'},
      );
      assert.equal(upload.status, 202);
      assert.ok(
        upload.headers
          .get('location')
          ?.startsWith(
            `http://${front.host}/v2/arr-test-project/held/arr-trainer/blobs/uploads/`,
          ),
        String(upload.headers.get('location')),
      );
      const manifest = await fetch(
        `http://${front.host}/v2/arr-test-project/held/arr-trainer/manifests/latest`,
      );
      assert.equal(manifest.status, 404);
      assert.match(await manifest.text(), /MANIFEST_UNKNOWN/);
    });
  });
});
