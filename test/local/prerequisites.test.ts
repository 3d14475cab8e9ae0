import * as assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {
  MissingPrerequisiteError,
  checkEmulatorPrerequisites,
  findExecutable,
} from '../../local/prerequisites';

describe('emulator prerequisite check', () => {
  let scratch: string;
  let realJava: string;
  let realGcloud: string;

  before(() => {
    realJava = findExecutable('java', process.env) ?? assert.fail('java');
    realGcloud = findExecutable('gcloud', process.env) ?? assert.fail('gcloud');
  });
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'prereq-'));
  });
  afterEach(() => rmSync(scratch, {recursive: true, force: true}));

  /** A directory to use as PATH holding only the named tools. */
  function pathWith(tools: Record<string, string>): string {
    const bin = join(scratch, 'bin');
    mkdirSync(bin, {recursive: true});
    for (const [name, target] of Object.entries(tools)) {
      symlinkSync(target, join(bin, name));
    }
    return bin;
  }

  function fakeSdk(components: string[]): string {
    const root = join(scratch, 'sdk');
    mkdirSync(join(root, 'platform'), {recursive: true});
    for (const component of components) {
      mkdirSync(join(root, 'platform', component));
    }
    return root;
  }

  async function problemOf(
    check: Promise<unknown>,
  ): Promise<MissingPrerequisiteError> {
    try {
      await check;
    } catch (err) {
      assert.ok(err instanceof MissingPrerequisiteError, String(err));
      return err;
    }
    return assert.fail('the check passed');
  }

  function assertNamesInstallCommands(message: string): void {
    assert.match(
      message,
      /gcloud components install cloud-firestore-emulator pubsub-emulator/,
    );
    assert.match(
      message,
      /apt-get install google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator/,
    );
    assert.match(message, /Java 17 or newer/);
  }

  it('passes on this machine and finds the SDK root and Java 17+', async () => {
    const toolchain = await checkEmulatorPrerequisites();
    assert.ok(toolchain.javaMajorVersion >= 17);
    assert.equal(toolchain.gcloud, realGcloud);
    assert.match(toolchain.sdkRoot, /google-cloud-sdk/);
  });

  it('says how to install when gcloud is not on PATH', async () => {
    const PATH = pathWith({java: realJava});
    const error = await problemOf(checkEmulatorPrerequisites({env: {PATH}}));
    assert.deepEqual(error.problems, [
      'gcloud (Google Cloud CLI) is not on PATH',
    ]);
    assertNamesInstallCommands(error.message);
  });

  it('names both components when the SDK has neither', async () => {
    const sdkRoot = fakeSdk([]);
    const error = await problemOf(checkEmulatorPrerequisites({sdkRoot}));
    assert.equal(error.problems.length, 2);
    assert.match(error.message, /Firestore emulator is not installed/);
    assert.match(error.message, /Pub\/Sub emulator is not installed/);
    assertNamesInstallCommands(error.message);
  });

  it('names only the missing component', async () => {
    const sdkRoot = fakeSdk(['cloud-firestore-emulator']);
    const error = await problemOf(checkEmulatorPrerequisites({sdkRoot}));
    assert.deepEqual(error.problems, [
      `Pub/Sub emulator is not installed (no ${join(sdkRoot, 'platform', 'pubsub-emulator')})`,
    ]);
  });

  it('finds the SDK root from the gcloud on PATH', async () => {
    // A fake SDK laid out like the real one: <root>/bin/gcloud, <root>/lib/gcloud.py.
    const sdkRoot = fakeSdk(['pubsub-emulator']);
    mkdirSync(join(sdkRoot, 'bin'));
    mkdirSync(join(sdkRoot, 'lib'));
    writeFileSync(join(sdkRoot, 'lib', 'gcloud.py'), '');
    writeFileSync(join(sdkRoot, 'bin', 'gcloud'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(sdkRoot, 'bin', 'gcloud'), 0o755);
    const PATH = pathWith({
      gcloud: join(sdkRoot, 'bin', 'gcloud'),
      java: realJava,
    });
    const error = await problemOf(checkEmulatorPrerequisites({env: {PATH}}));
    assert.deepEqual(error.problems, [
      `Firestore emulator is not installed (no ${join(sdkRoot, 'platform', 'cloud-firestore-emulator')})`,
    ]);
  });

  it('refuses a Java older than 17 and a missing java', async () => {
    const oldJava = join(scratch, 'old-java');
    writeFileSync(
      oldJava,
      '#!/bin/sh\necho \'openjdk version "11.0.21" 2023-10-17\' >&2\n',
    );
    chmodSync(oldJava, 0o755);
    const tooOld = await problemOf(
      checkEmulatorPrerequisites({
        env: {PATH: pathWith({gcloud: realGcloud, java: oldJava})},
      }),
    );
    assert.deepEqual(tooOld.problems, [
      'Java 11 found; the emulators need Java 17 or newer',
    ]);

    rmSync(join(scratch, 'bin'), {recursive: true});
    const missing = await problemOf(
      checkEmulatorPrerequisites({env: {PATH: pathWith({gcloud: realGcloud})}}),
    );
    assert.deepEqual(missing.problems, ['java is not on PATH']);
    assertNamesInstallCommands(missing.message);
  });

  it('reads old-style Java versions (1.8 is Java 8)', async () => {
    const java8 = join(scratch, 'java8');
    writeFileSync(java8, '#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n');
    chmodSync(java8, 0o755);
    const error = await problemOf(
      checkEmulatorPrerequisites({
        env: {PATH: pathWith({gcloud: realGcloud, java: java8})},
      }),
    );
    assert.deepEqual(error.problems, [
      'Java 8 found; the emulators need Java 17 or newer',
    ]);
  });
});
