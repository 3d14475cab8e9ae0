/**
 * `arr changed --from`: before the message is published, the build context it names is
 * uploaded, made from exactly the files the key was computed from, so the build finds the
 * object its source names (shared/build-contexts.ts: written only when absent).
 */
import {formatBytes} from '../shared/format-bytes';
import {
  ContextUploadError,
  parseStorageUri,
  uploadContextArchive,
} from '../shared/build-contexts';
import {
  buildContextArchive,
  ContextArchiveError,
} from '../shared/context-archive';
import type {Connection} from './connection';
import {CliError, ExitCode, UsageError} from './errors';
import {contextListing, type FolderContent} from './from-folder';
import type {Output} from './publish';

/** Uploads the folder's context to `source` (a `gs://` object); says what it did on stderr. */
export async function uploadFolderContext(
  connection: Pick<Connection, 'storage'>,
  folder: string,
  content: FolderContent,
  source: string,
  io: Output,
): Promise<void> {
  const object = parseStorageUri(source);
  if (object === undefined) {
    io.err.write(
      `  ${source} is a git revision: the build checks it out; nothing uploaded\n`,
    );
    return;
  }
  let archive;
  try {
    archive = await buildContextArchive({
      contextDir: content.contextDir,
      listing: contextListing(content, folder),
      dockerfile: content.dockerfile,
    });
  } catch (error) {
    if (error instanceof ContextArchiveError) {
      throw new UsageError(`--from ${folder}: ${error.message}`);
    }
    throw error;
  }
  let outcome;
  try {
    outcome = await uploadContextArchive(
      await connection.storage(),
      object,
      archive.bytes,
    );
  } catch (error) {
    if (error instanceof ContextUploadError) {
      throw new CliError(
        `${error.message}\nNothing was published.`,
        ExitCode.Environment,
      );
    }
    throw error;
  }
  const files = `${archive.paths.length} file${archive.paths.length === 1 ? '' : 's'}`;
  io.err.write(
    outcome.kind === 'uploaded'
      ? `✓ Build context uploaded: ${source} (${files}, ${formatBytes(outcome.bytes)})\n`
      : `✓ Build context already uploaded: ${source} (same name, same content)\n`,
  );
}
