/**
 * Setup's reconcile: images the manifest knows but the registry no longer holds (after a
 * teardown, say) are published as `dockerfile-changed` again, from their last known
 * Dockerfile hash and source. Ephemeral images come back in minutes; the base, still
 * in the persistent repository, is reused.
 */
import {keyCoversOf} from './catalog';
import type {Context} from './context';
import {repositoryForTier} from './config';
import {readManifest} from './manifest';
import {publishDockerfileChanged} from './publisher';
import type {Run} from './runs';

export async function reconcileImages(
  run: Run,
  context: Context,
  options: {dryRun: boolean; requestedBy?: string},
): Promise<string[]> {
  const firestore = await context.clients.firestore();
  const manifest = new Map(
    (await readManifest(firestore)).map(e => [e.image, e]),
  );
  const rebuilt: string[] = [];
  for (const image of context.catalog.inBuildOrder()) {
    const entry = manifest.get(image.name);
    const latest = entry?.latestRequest;
    if (!entry || !latest) continue;
    const repository = repositoryForTier(context.config, image.tier);
    if (entry.present && entry.key) {
      const tag = await context.registry.getTag(
        repository,
        image.name,
        entry.key,
      );
      if (tag) continue;
    }
    const needsContext = keyCoversOf(image) === 'context';
    if (needsContext && latest.contextDigest === undefined) {
      await run.warn(
        `⚠ ${image.name} is not in ${repository}, and it is keyed on its build context, which no request has given a digest of yet: publish it (arr changed ${image.name} --from <folder>)`,
      );
      continue;
    }
    if (options.dryRun) {
      await run.info(
        `Would rebuild ${image.name} (not in ${repository}; Dockerfile ${latest.dockerfileHash})`,
      );
      continue;
    }
    const messageId = await publishDockerfileChanged(context, run, {
      image: image.name,
      dockerfileHash: latest.dockerfileHash,
      ...(needsContext ? {contextDigest: latest.contextDigest} : {}),
      source: latest.source,
      requestedBy: options.requestedBy
        ? `setup (${options.requestedBy})`
        : 'setup',
    });
    await run.info(
      `→ Rebuilding ${image.name}: not in ${repository} (message ${messageId})`,
    );
    rebuilt.push(image.name);
  }
  if (rebuilt.length === 0 && !options.dryRun) {
    await run.info('✓ Every known image is present; nothing to rebuild');
  }
  return rebuilt;
}
