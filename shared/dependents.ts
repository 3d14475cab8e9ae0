/**
 * After an image changes, the images built FROM it get new cache keys: publish a
 * `dockerfile-changed` for each whose key changes, so it rebuilds on the new parent.
 * An unchanged key publishes nothing.
 */
import {cacheKey} from './cache-key';
import {keyCoversOf} from './catalog';
import type {Context} from './context';
import {readManifestEntry} from './manifest';
import {publishDockerfileChanged} from './publisher';
import type {Run} from './runs';

export async function publishDependents(
  parent: string,
  parentKey: string,
  run: Run,
  context: Context,
): Promise<string[]> {
  const firestore = await context.clients.firestore();
  const published: string[] = [];
  for (const child of context.catalog.childrenOf(parent)) {
    const entry = await readManifestEntry(firestore, child.name);
    const latest = entry?.latestRequest;
    if (!latest) {
      await run.info(
        `ℹ ${child.name}: no Dockerfile hash known yet; it is built when one is published`,
      );
      continue;
    }
    const needsContext = keyCoversOf(child) === 'context';
    if (needsContext && latest.contextDigest === undefined) {
      await run.info(
        `ℹ ${child.name}: no context digest known yet (it is keyed on its build context); it is built when one is published (arr changed ${child.name} --from <folder>)`,
      );
      continue;
    }
    const contextDigest = needsContext ? latest.contextDigest : undefined;
    const key = cacheKey(
      {dockerfileHash: latest.dockerfileHash, contextDigest},
      {image: parent, key: parentKey},
    );
    if (entry.present && entry.key === key) {
      await run.info(
        `✓ ${child.name}:${key} is already built on ${parent}:${parentKey}`,
      );
      continue;
    }
    const messageId = await publishDockerfileChanged(context, run, {
      image: child.name,
      dockerfileHash: latest.dockerfileHash,
      ...(contextDigest ? {contextDigest} : {}),
      source: latest.source,
      requestedBy: `${parent}:${parentKey} changed`,
    });
    await run.info(
      `→ Rebuilding ${child.name} on ${parent}:${parentKey} (message ${messageId})`,
    );
    published.push(child.name);
  }
  return published;
}
