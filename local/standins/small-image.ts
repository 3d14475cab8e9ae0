/**
 * A real, pullable Docker image made in memory from a text: one gzipped tar layer holding
 * `/arr-image.txt` with that text, and its config. Nothing in it depends on time, so the same
 * text always gives the same digest (how tests put one image into two repositories).
 */
import {gzipSync} from 'node:zlib';
import {DOCKER_MANIFEST_MEDIA_TYPE, sha256Digest} from './registry-api';

const CONFIG_MEDIA_TYPE = 'application/vnd.docker.container.image.v1+json';
const LAYER_MEDIA_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const FILE_NAME = 'arr-image.txt';

export interface SmallImage {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  mediaType: string;
  digest: string;
}

export function smallImage(content: string): SmallImage {
  const tar = tarOfOneFile(FILE_NAME, Buffer.from(content, 'utf8'));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: {},
      rootfs: {type: 'layers', diff_ids: [sha256Digest(tar)]},
    }),
  );
  // Written as Docker writes a manifest (Go's MarshalIndent, three spaces), so that `docker pull`,
  // `docker tag` and `docker push` of the image keep its digest, as they do for any image.
  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: DOCKER_MANIFEST_MEDIA_TYPE,
        config: {
          mediaType: CONFIG_MEDIA_TYPE,
          size: config.length,
          digest: sha256Digest(config),
        },
        layers: [
          {
            mediaType: LAYER_MEDIA_TYPE,
            size: layer.length,
            digest: sha256Digest(layer),
          },
        ],
      },
      null,
      3,
    ),
  );
  return {
    config,
    layer,
    manifest,
    mediaType: DOCKER_MANIFEST_MEDIA_TYPE,
    digest: sha256Digest(manifest),
  };
}

/** A ustar archive of one regular file, owned by root, mtime 0. */
export function tarOfOneFile(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) =>
    header.write(value.padEnd(length, '\0').slice(0, length), offset, 'ascii');
  const octal = (value: number, length: number) =>
    value.toString(8).padStart(length - 1, '0') + '\0';
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(data.length, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, ' '.repeat(8)); // the checksum counts its own field as spaces
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let checksum = 0;
  for (const byte of header) checksum += byte;
  field(148, 8, checksum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}
