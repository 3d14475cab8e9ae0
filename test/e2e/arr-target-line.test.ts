/**
 * README, "Where it connects": the first line every `arr` command that talks to a stack
 * or project writes (on stderr) says which one; `arr key`, which talks to nothing, writes
 * none. And the teardown dry run says how to delete in the words the operator typed.
 * Driven through `arr` as spawned processes over a local stack of the suite's own.
 */
import * as assert from 'assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {imageCatalog} from '../../shared/catalog';
import {ArrOnStack, startArrOnStack} from '../support/arr-on-stack';

const PROJECT = 'arr-target-line';
const TARGET_LINE = new RegExp(
  `^arr → local stack, project ${PROJECT} \\(pid \\d+, .+state\\.json\\)$`,
);

const firstLine = (text: string) => text.split('\n')[0];

describe('arr says first which stack it talks to', function () {
  this.timeout(180_000);
  let driver: ArrOnStack;
  let folder: string;

  before(async () => {
    driver = await startArrOnStack(PROJECT);
    // The launcher's folder: it is keyed on its Dockerfile alone.
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-target-line-'));
    fs.writeFileSync(path.join(folder, 'Dockerfile'), 'FROM python:3.12\n');
  });
  after(async () => {
    await driver?.stop();
    fs.rmSync(folder, {recursive: true, force: true});
  });

  /** Runs arr, requires exit 0 and the target line first on stderr; its output. */
  async function talksToTheStack(...args: string[]) {
    const result = await driver.arr(...args);
    assert.strictEqual(
      result.code,
      0,
      `arr ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
    assert.match(
      firstLine(result.stderr),
      TARGET_LINE,
      `arr ${args.join(' ')}`,
    );
    return result;
  }

  it('setup, teardown, changed --from, status, runs and cleanup: first line; --json too, with stdout the JSON alone', async () => {
    await talksToTheStack('setup');
    await talksToTheStack('teardown', '--dry-run');
    const image = imageCatalog().get('arr-vertex-launcher')!;
    assert.strictEqual(image.keyCovers ?? 'dockerfile', 'dockerfile');
    const changed = await talksToTheStack(
      'changed',
      image.name,
      '--from',
      folder,
    );
    // What --from found comes second, after the target line.
    assert.match(
      changed.stderr.split('\n')[1],
      /^arr-vertex-launcher: Dockerfile [0-9a-f]{12} /,
    );
    const status = await talksToTheStack('status');
    assert.match(status.stdout, new RegExp(`^Project ${PROJECT}, region `));
    const json = await talksToTheStack('status', '--json');
    assert.strictEqual(JSON.parse(json.stdout).project, PROJECT);
    const runs = await talksToTheStack('runs', '--json');
    const [latest] = JSON.parse(runs.stdout).runs as Array<{id: string}>;
    await talksToTheStack('runs');
    await talksToTheStack('runs', latest.id);
    await talksToTheStack('runs', latest.id, '--wait');
    await talksToTheStack('cleanup', 'arr-vertex-launcher');
    await talksToTheStack('setup', '--dry-run', '--no-wait');
  });

  it('arr key, offline, names no target', async () => {
    const result = await driver.arr(
      'key',
      'arr-vertex-launcher',
      '--from',
      folder,
    );
    assert.strictEqual(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /arr →/);
  });

  it('the teardown dry run says the arr command that deletes, and the message field for a raw publish', async () => {
    const dry = await talksToTheStack('teardown');
    assert.match(
      dry.stdout,
      /Dry run: no confirm \(to delete arr-coc-registry: arr teardown --confirm arr-coc-registry, or a teardown-requested message with "confirm": "arr-coc-registry"\)/,
    );
    assert.doesNotMatch(dry.stdout, /send confirm/);
  });
});
