/**
 * `arr status` data: what Firestore records (repositories/, images/, builds/,
 * runs/) together with what Artifact Registry holds right now.
 */
import {buildRecords} from '../shared/build-records';
import {readManifest} from '../shared/manifest';
import {
  readRepositoryRecord,
  type RepositoryRecord,
} from '../shared/repository-records';
import {runRecords} from '../shared/runs';
import {imageCatalog} from '../shared/catalog';
import {BUILD_MINUTE_RATES_SOURCE, ratesWith} from '../shared/build-rates';
import {readSavings} from '../shared/savings';
import {
  describeStranded,
  NEEDS_MIGRATION,
  strandedImages,
} from '../shared/last-copy';
import {readBuildProgress} from './build-progress';
import type {Connection} from './connection';
import {
  buildView,
  imageView,
  repositoryRecordFields,
  RepositoryView,
  runSummaryView,
  RunSummaryView,
  SCHEMA_VERSION,
  StatusView,
} from './views';

export async function recentRuns(
  connection: Connection,
  limit: number,
): Promise<RunSummaryView[]> {
  const firestore = await connection.firestore();
  const snapshot = await runRecords(firestore)
    .orderBy('startedAt', 'desc')
    .limit(limit)
    .get();
  return snapshot.docs.map(doc => runSummaryView(doc.data()));
}

export async function readStatus(
  connection: Connection,
  options: {builds?: number; runs?: number} = {},
): Promise<StatusView> {
  const {config} = connection;
  const firestore = await connection.firestore();
  const [repositories, manifest, builds, runs, savings] = await Promise.all([
    Promise.all(
      (
        [
          [config.persistentRepository, 'persistent'],
          [config.ephemeralRepository, 'ephemeral'],
        ] as const
      ).map(([id, tier]) => repositoryView(connection, id, tier)),
    ),
    readManifest(firestore),
    buildRecords(firestore)
      .orderBy('claimedAt', 'desc')
      .limit(options.builds ?? 10)
      .get(),
    recentRuns(connection, options.runs ?? 10),
    readSavings(
      firestore,
      ratesWith(config.buildMinuteRates),
      image => imageCatalog().get(image)?.machineType,
    ),
  ]);
  return {
    schemaVersion: SCHEMA_VERSION,
    project: config.projectId,
    region: config.region,
    repositories: withOnlyCopies(repositories, connection),
    images: manifest
      .map(imageView)
      .sort((a, b) => a.image.localeCompare(b.image)),
    builds: await Promise.all(
      builds.docs.map(async doc => {
        const record = doc.data();
        return buildView(
          doc.id,
          record,
          await readBuildProgress(connection, record),
        );
      }),
    ),
    runs,
    savings: {
      ...savings,
      rates: {
        source: BUILD_MINUTE_RATES_SOURCE.url,
        lookedUp: BUILD_MINUTE_RATES_SOURCE.lookedUp,
        overridden: Object.keys(config.buildMinuteRates ?? {}).sort(),
      },
    },
  };
}

/**
 * The last-copy rule, live: the ephemeral repository's persistent-tier versions that the
 * persistent one lacks. Unknown (nothing flagged) when either repository could not be read.
 */
function withOnlyCopies(
  repositories: RepositoryView[],
  connection: Connection,
): RepositoryView[] {
  const {config} = connection;
  const persistent = repositories.find(r => r.tier === 'persistent');
  const ephemeral = repositories.find(r => r.tier === 'ephemeral');
  if (!persistent || !ephemeral || persistent.exists === null) {
    return repositories;
  }
  const stranded = strandedImages(
    imageCatalog(),
    ephemeral.images,
    persistent.images,
  );
  if (stranded.length === 0) return repositories;
  const flagged: RepositoryView = {
    ...ephemeral,
    // What setup recorded about the migration is replaced by what is true now.
    warnings: [
      ...ephemeral.warnings.filter(w => !w.startsWith(NEEDS_MIGRATION)),
      ...stranded.map(
        version =>
          `${NEEDS_MIGRATION} holds the only copy of ${describeStranded(version)}; teardown refuses to delete ${ephemeral.id} until it is copied to ${config.persistentRepository} (README: "Migrating an existing base image")`,
      ),
    ],
    onlyCopies: stranded.map(({image, digest, sizeBytes, tags}) => ({
      image,
      digest,
      sizeBytes,
      tags,
    })),
  };
  return repositories.map(r => (r === ephemeral ? flagged : r));
}

async function repositoryView(
  connection: Connection,
  id: string,
  tier: 'persistent' | 'ephemeral',
): Promise<RepositoryView> {
  const firestore = await connection.firestore();
  const record: RepositoryRecord | undefined = await readRepositoryRecord(
    firestore,
    id,
  );
  const base = repositoryRecordFields(record);
  try {
    const live = await connection.registry.getRepository(id);
    if (live === null) {
      return {
        id,
        tier,
        exists: false,
        ...base,
        format: null,
        location: null,
        labels: {},
        images: [],
        imageCount: 0,
        sizeBytes: 0,
        onlyCopies: [],
      };
    }
    const images = (await connection.registry.listDockerImages(id))
      .map(i => ({
        image: i.image,
        tags: [...i.tags].sort(),
        digest: i.digest,
        sizeBytes: i.sizeBytes,
        uploadTime: i.uploadTime.toISOString(),
      }))
      .sort(
        (a, b) =>
          a.image.localeCompare(b.image) ||
          a.uploadTime.localeCompare(b.uploadTime),
      );
    return {
      id,
      tier,
      exists: true,
      ...base,
      format: live.format,
      location: live.location,
      labels: {...live.labels},
      images,
      imageCount: new Set(images.map(i => i.image)).size,
      sizeBytes: images.reduce((sum, i) => sum + i.sizeBytes, 0),
      onlyCopies: [],
    };
  } catch (err) {
    return {
      id,
      tier,
      exists: null,
      ...base,
      format: record?.format ?? null,
      location: record?.location ?? null,
      labels: record?.labels ?? {},
      images: [],
      imageCount: 0,
      sizeBytes: 0,
      onlyCopies: [],
      warnings: [
        ...base.warnings,
        `Artifact Registry could not be asked: ${(err as Error).message}`,
      ],
    };
  }
}
