/**
 * The few calls of the Docker Registry HTTP API V2 the stand-in makes to its own registry:
 * upload a blob, put a manifest (a push, or a tag on a manifest already there), delete one.
 */
import {createHash} from 'node:crypto';

export const DOCKER_MANIFEST_MEDIA_TYPE =
  'application/vnd.docker.distribution.manifest.v2+json';

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export class RegistryApi {
  /** `host`: `127.0.0.1:PORT` of the registry itself. */
  constructor(private readonly host: string) {}

  /** Uploads `bytes` into `name` (one POST, one PUT); returns its digest. */
  async uploadBlob(name: string, bytes: Buffer): Promise<string> {
    const digest = sha256Digest(bytes);
    const started = await this.call(
      'POST',
      `/v2/${name}/blobs/uploads/`,
      202,
      `start a blob upload to ${name}`,
    );
    const location = started.headers.get('location');
    if (!location)
      throw new Error(`the registry gave no upload location for ${name}`);
    const url = new URL(location, `http://${this.host}`);
    url.searchParams.set('digest', digest);
    await this.call(
      'PUT',
      `${url.pathname}${url.search}`,
      201,
      `upload blob ${digest} to ${name}`,
      {body: bytes, contentType: 'application/octet-stream'},
    );
    return digest;
  }

  /** PUT /v2/NAME/manifests/REFERENCE: pushes a manifest, or tags one the repository holds. */
  async putManifest(
    name: string,
    reference: string,
    manifest: Buffer,
    mediaType: string,
  ): Promise<string> {
    const response = await this.call(
      'PUT',
      `/v2/${name}/manifests/${reference}`,
      201,
      `put manifest ${name}:${reference}`,
      {body: manifest, contentType: mediaType},
    );
    return (
      response.headers.get('docker-content-digest') ?? sha256Digest(manifest)
    );
  }

  /** DELETE /v2/NAME/manifests/DIGEST: the manifest and every tag on it. */
  async deleteManifest(name: string, digest: string): Promise<void> {
    await this.call(
      'DELETE',
      `/v2/${name}/manifests/${digest}`,
      202,
      `delete manifest ${name}@${digest}`,
    );
  }

  private async call(
    method: string,
    path: string,
    expected: number,
    what: string,
    payload?: {body: Buffer; contentType: string},
  ): Promise<Response> {
    const response = await fetch(`http://${this.host}${path}`, {
      method,
      headers: payload ? {'content-type': payload.contentType} : {},
      body: payload?.body,
    });
    if (response.status !== expected) {
      const text = await response.text();
      throw new Error(
        `the registry refused to ${what}: ${response.status} ${text.trim().slice(0, 300)}`,
      );
    }
    await response.body?.cancel();
    return response;
  }
}
