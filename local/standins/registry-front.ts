/**
 * The registry host users and builds push to: a streaming HTTP proxy in front of the Docker
 * registry that refuses a name under `/v2/PROJECT/REPOSITORY/…` unless the Artifact Registry
 * stand-in holds that DOCKER repository, answering as Artifact Registry does. Everything else is
 * passed through untouched, the Host header too (the registry builds upload URLs from it).
 */
import {createServer, request} from 'node:http';
import type {AddressInfo} from 'node:net';
import {LOOPBACK} from '../ports';

export interface RegistryFront {
  /** `127.0.0.1:PORT`: the registry host of `docker push` and `docker pull`. */
  readonly host: string;
  stop(): Promise<void>;
}

export interface RegistryFrontOptions {
  /** `127.0.0.1:PORT` of the registry. */
  backend: string;
  /** Whether the stand-in holds DOCKER repository `repositoryId` of `projectId`. */
  holds(projectId: string, repositoryId: string): boolean;
}

/** `/v2/NAME/(manifests|blobs|tags)/…`, NAME being `PROJECT/REPOSITORY[/IMAGE…]`. */
const NAMED_PATH = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//;

export async function startRegistryFront(
  options: RegistryFrontOptions,
): Promise<RegistryFront> {
  const [backendHost, backendPort] = options.backend.split(':');
  const server = createServer((incoming, outgoing) => {
    const named = NAMED_PATH.exec(
      new URL(incoming.url ?? '/', 'http://x').pathname,
    );
    if (named) {
      const [projectId, repositoryId] = named[1].split('/');
      if (!repositoryId || !options.holds(projectId, repositoryId)) {
        incoming.resume();
        outgoing.writeHead(404, {
          'content-type': 'application/json',
          'docker-distribution-api-version': 'registry/2.0',
        });
        outgoing.end(
          JSON.stringify({
            errors: [
              {
                code: 'NAME_UNKNOWN',
                message: `Repository "${repositoryId ?? projectId}" not found`,
              },
            ],
          }),
        );
        return;
      }
    }
    const forwarded = request(
      {
        host: backendHost,
        port: Number(backendPort),
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      answer => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', error => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end(`the registry did not answer: ${error.message}`);
    });
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, resolve);
  });
  const {port} = server.address() as AddressInfo;
  return {
    host: `${LOOPBACK}:${port}`,
    stop: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        // Docker keeps connections alive; they must not hold the stop up.
        server.closeAllConnections();
      }),
  };
}
