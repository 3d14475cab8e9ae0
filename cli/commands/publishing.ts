/** `arr setup`, `arr teardown`, `arr changed`: validate, publish, follow. */
import {hostname, userInfo} from 'node:os';
import type {Catalog} from '../../shared/catalog';
import type {Connection} from '../connection';
import {UsageError} from '../errors';
import {uploadFolderContext} from '../context-upload';
import {
  contentFromFolder,
  describeFolderContent,
  type FolderContent,
} from '../from-folder';
import type {ChangedFlags, SetupFlags, TeardownFlags} from '../program';
import {Output, publishAndFollow, stdio} from '../publish';
import {
  changedMessage,
  checkChangedInput,
  SETUP_TOPIC,
  setupMessage,
  TEARDOWN_TOPIC,
  teardownMessage,
} from '../requests';

/** Who asked, as the run records it. */
export function requestedBy(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return `arr (${user}@${hostname()})`.slice(0, 200);
}

const waitOptions = (flags: SetupFlags | TeardownFlags | ChangedFlags) => ({
  wait: flags.wait,
  json: flags.json,
  timeoutSeconds: flags.timeout,
});

/** Input is checked before `connect` is called: bad input needs no project. */
export type Connect = () => Connection;

export function setup(
  connect: Connect,
  flags: SetupFlags,
  io: Output = stdio,
): Promise<number> {
  const message = setupMessage({
    dryRun: flags.dryRun,
    requestedBy: requestedBy(),
  });
  return publishAndFollow(
    connect(),
    SETUP_TOPIC,
    message,
    'setup',
    waitOptions(flags),
    io,
  );
}

export function teardown(
  connect: Connect,
  flags: TeardownFlags,
  io: Output = stdio,
): Promise<number> {
  const connection = connect();
  const message = teardownMessage(
    {
      confirm: flags.confirm,
      dryRun: flags.dryRun,
      skipImages: flags.skipImages,
      requestedBy: requestedBy(),
    },
    connection.config.ephemeralRepository,
  );
  return publishAndFollow(
    connection,
    TEARDOWN_TOPIC,
    message,
    'teardown',
    waitOptions(flags),
    io,
  );
}

/**
 * With --from, the context the key was computed from is uploaded where the message's
 * source names it before the message is published: a failed upload publishes nothing.
 */
export async function changed(
  connect: Connect,
  catalog: Catalog,
  image: string,
  flags: ChangedFlags,
  io: Output = stdio,
): Promise<number> {
  let hash = flags.hash;
  let contextDigest = flags.contextDigest;
  let content: FolderContent | undefined;
  let found: string | undefined;
  if (flags.from !== undefined) {
    if (hash !== undefined || contextDigest !== undefined) {
      throw new UsageError(
        '--from computes the hash and the context digest; give either --from, or --hash (and --context-digest), not both.',
      );
    }
    const entry = catalog.get(image);
    if (entry) {
      content = contentFromFolder(entry, flags.from);
      hash = content.dockerfileHash;
      contextDigest = content.contextDigest;
      found = describeFolderContent(image, content);
    }
  }
  checkChangedInput(image, hash, catalog, contextDigest);
  // After the line that says where arr talks to, which connecting writes first.
  const connection = connect();
  if (found !== undefined) io.err.write(`${found}\n`);
  const message = changedMessage(
    {
      image,
      hash,
      contextDigest,
      source: flags.source,
      force: flags.force,
      requestedBy: requestedBy(),
    },
    catalog,
    connection.config.contextsBucket,
  );
  if (content !== undefined && flags.from !== undefined) {
    await uploadFolderContext(
      connection,
      flags.from,
      content,
      message.source,
      io,
    );
  }
  return publishAndFollow(
    connection,
    connection.config.dockerfileChangedTopic,
    message,
    image,
    waitOptions(flags),
    io,
  );
}
