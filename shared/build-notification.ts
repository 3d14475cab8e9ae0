/**
 * A `cloud-builds` message is a hint, not proof. Cloud Build publishes one on every status
 * change (attributes `buildId` and `status`, data the Build as JSON), but anyone who may
 * publish to the topic can send one too, and a true one may be stale by the time it is
 * read. So a notification only names a build: build-finished asks Cloud Build for it and
 * acts on that answer. What the message claimed is kept only to say where it differed.
 */
import {
  attributesOf,
  decodeJson,
  describeIssues,
  MalformedMessageError,
  type PubSubCloudEvent,
} from './decode-message';
import {statusRank} from './build-records';
import type {BuildSnapshot} from './image-build';
import {BuildNotification, BuildStatus} from './messages';
import {quote} from './quote';

/** Cloud Build's ids are UUIDs; anything far from one never reaches GetBuild or a line of output. */
const BUILD_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_.-]{0,127}$/;

export interface BuildNotificationHint {
  /** The build it names: its `buildId` attribute, else its body's `id`. */
  buildId: string;
  /** The status its `status` attribute claims. */
  attributeStatus?: string;
  /** The body, if it reads as a Build as Cloud Build writes it. */
  body?: BuildNotification;
  /** Why it does not, if it does not. */
  bodyProblem?: string;
}

export function decodeBuildNotification(
  event: PubSubCloudEvent,
): BuildNotificationHint {
  const json = decodeJson(event);
  const attributes = attributesOf(event);
  const bodyId = (json as {id?: unknown} | null)?.id;
  const named = [attributes.buildId, bodyId].filter(
    (id): id is string => typeof id === 'string' && id !== '',
  );
  if (named.length === 0) {
    throw new MalformedMessageError(
      'the notification names no build (neither a `buildId` attribute nor a string `id` in its data)',
    );
  }
  if (named.length === 2 && named[0] !== named[1]) {
    throw new MalformedMessageError(
      `the notification's buildId attribute is ${quote(named[0])} but its data's id is ${quote(named[1])}; an ambiguous notification is not acted on`,
    );
  }
  const buildId = named[0];
  if (!BUILD_ID_PATTERN.test(buildId)) {
    throw new MalformedMessageError(
      `the notification names build ${quote(buildId)}, which is not a Cloud Build id`,
    );
  }
  const body = BuildNotification.safeParse(json);
  return {
    buildId,
    ...(attributes.status !== undefined
      ? {attributeStatus: attributes.status}
      : {}),
    ...(body.success
      ? {body: body.data}
      : {bodyProblem: describeIssues(body.error.issues)}),
  };
}

export interface Difference {
  /** A stale claim is ordinary (the build moved on); any other is a contradiction. */
  kind: 'stale' | 'contradicted';
  text: string;
}

/** Where the notification's claims differ from Cloud Build's answer, in words. */
export function differences(
  hint: BuildNotificationHint,
  build: BuildSnapshot,
): Difference[] {
  const found: Difference[] = [];
  const claims = [
    ...(hint.attributeStatus !== undefined
      ? [{where: 'its attributes', status: hint.attributeStatus}]
      : []),
    ...(hint.body ? [{where: 'its data', status: hint.body.status}] : []),
  ];
  if (claims.some(claim => claim.status !== build.status)) {
    const said =
      new Set(claims.map(c => c.status)).size === 1
        ? statusText(claims[0].status)
        : claims.map(c => `${statusText(c.status)} (${c.where})`).join(' and ');
    const stale = claims.every(
      claim =>
        isStatus(claim.status) &&
        statusRank(claim.status) < statusRank(build.status),
    );
    found.push({
      kind: stale ? 'stale' : 'contradicted',
      text: `the notification said ${said}; Cloud Build ${stale ? 'now ' : ''}says ${build.status}`,
    });
  }
  for (const claimed of hint.body?.results?.images ?? []) {
    if (claimed.digest === undefined) continue;
    const pushed = build.images.find(image => image.name === claimed.name);
    if (pushed?.digest === claimed.digest) continue;
    found.push({
      kind: 'contradicted',
      text: `the notification said ${quote(claimed.name)} was pushed as ${quote(claimed.digest)}; Cloud Build says ${pushed?.digest ? `it was pushed as ${pushed.digest}` : 'the build pushed no such image'}`,
    });
    break;
  }
  return found;
}

function isStatus(status: string): status is BuildStatus {
  return BuildStatus.some(known => known === status);
}

/** A status as a publisher wrote it: bare if it is one, quoted and escaped if not. */
function statusText(status: string): string {
  return isStatus(status) ? status : quote(status);
}
