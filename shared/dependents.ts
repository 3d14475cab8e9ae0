/**
 * After an image changes, the images built FROM it get new cache keys: publish a
 * `dockerfile-changed` for each whose key changes, so it rebuilds on the new parent.
 * An unchanged key publishes nothing.
 */
import {cacheKey} from './cache-key';
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
    const key = cacheKey(latest.dockerfileHash, {
      image: parent,
      key: parentKey,
    });
    if (entry.present && entry.key === key) {
      await run.info(
        `✓ ${child.name}:${key} is already built on ${parent}:${parentKey}`,
      );
      continue;
    }
    const messageId = await publishDockerfileChanged(context, run, {
      image: child.name,
      dockerfileHash: latest.dockerfileHash,
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
