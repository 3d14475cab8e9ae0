import * as assert from 'node:assert/strict';
import {classifyGcloudResult} from './gcloud-outcome';

const NO_ACCOUNT = (command: string) =>
  `ERROR: (${command}) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n`;

describe('reading a gcloud ending', () => {
  const argv = ['pubsub', 'topics', 'describe', 'x', '--project=p'];

  it('reads a missing account on the intended command as accepted arguments', () => {
    const o = classifyGcloudResult(argv, {
      exitCode: 1,
      stderr: NO_ACCOUNT('gcloud.pubsub.topics.describe'),
    });
    assert.deepEqual(
      {kind: o.kind, because: o.kind === 'accepted' ? o.because : undefined},
      {kind: 'accepted', because: 'credentials'},
    );
  });

  it('does not accept a credentials error from another command than the one meant', () => {
    const o = classifyGcloudResult(argv, {
      exitCode: 1,
      stderr: NO_ACCOUNT('gcloud.pubsub.subscriptions.describe'),
    });
    assert.equal(o.kind, 'unclassified');
  });

  it('reads usage errors as rejected, whatever the exit code', () => {
    for (const stderr of [
      "ERROR: (gcloud.builds.triggers.create) Invalid choice: 'repository'.",
      'ERROR: (gcloud) value for field [projectsId] in collection [pubsub.projects.topics] is required but was not provided',
      'ERROR: (gcloud.pubsub.topics.describe) unrecognized arguments: --bogus',
      "ERROR: (gcloud) Unable to read file [shared/x.json]: [Errno 2] No such file or directory: 'shared/x.json'",
    ]) {
      assert.equal(
        classifyGcloudResult(argv, {exitCode: 1, stderr}).kind,
        'rejected',
      );
    }
    assert.equal(
      classifyGcloudResult(argv, {exitCode: 2, stderr: 'usage'}).kind,
      'rejected',
    );
  });

  it('leaves anything else unclassified, including success without credentials', () => {
    assert.equal(
      classifyGcloudResult(argv, {exitCode: 1, stderr: 'ERROR: boom'}).kind,
      'unclassified',
    );
    assert.equal(
      classifyGcloudResult(argv, {exitCode: 0, stderr: ''}).kind,
      'unclassified',
    );
  });
});
