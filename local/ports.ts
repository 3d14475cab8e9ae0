/** Loopback ports and readiness probes for local servers. */
import {connect, createServer} from 'node:net';
import {setTimeout as sleep} from 'node:timers/promises';

export const LOOPBACK = '127.0.0.1';

/**
 * A port that is free on the loopback interface right now. The kernel picks
 * it (bind to port 0), so parallel callers do not collide with each other;
 * a foreign process could still take it before the caller binds it.
 */
export function findFreePort(host: string = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('Could not read the port of a probe socket'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

export interface HttpReadiness {
  /** Polled with GET until it answers. */
  readonly url: string;
  readonly timeoutMs: number;
  /** Which answers mean ready; default: any HTTP answer at all. */
  readonly isReady?: (status: number, body: string) => boolean;
  /**
   * Returns a reason to give up early (e.g. "the process exited with code 1"),
   * or undefined to keep waiting.
   */
  readonly abandon?: () => string | undefined;
}

const PROBE_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Waits until `url` gives a ready answer. Rejects with the reason on timeout
 * or when `abandon` says the server will never come up.
 */
export async function waitForHttp(readiness: HttpReadiness): Promise<void> {
  const isReady = readiness.isReady ?? (() => true);
  const deadline = Date.now() + readiness.timeoutMs;
  let lastProblem = 'no answer yet';
  for (;;) {
    const abandoned = readiness.abandon?.();
    if (abandoned !== undefined) throw new Error(abandoned);
    try {
      const response = await fetch(readiness.url, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      const body = await response.text();
      if (isReady(response.status, body)) return;
      lastProblem = `answered ${response.status} ${JSON.stringify(body.slice(0, 200))}`;
    } catch (err) {
      lastProblem = describeFetchError(err);
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `${readiness.url} did not become ready within ${readiness.timeoutMs} ms (${lastProblem})`,
      );
    }
    await sleep(PROBE_INTERVAL_MS);
  }
}

export interface PortReadiness {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** As in HttpReadiness: a reason to give up early, or undefined. */
  readonly abandon?: () => string | undefined;
}

/**
 * Waits until something accepts TCP connections on host:port. For servers
 * that answer any request they can probe with by running user code (a
 * CloudEvent function logs a TypeError for a GET), listening is ready.
 */
export async function waitForListening(
  readiness: PortReadiness,
): Promise<void> {
  const deadline = Date.now() + readiness.timeoutMs;
  let lastProblem = 'no answer yet';
  for (;;) {
    const abandoned = readiness.abandon?.();
    if (abandoned !== undefined) throw new Error(abandoned);
    const problem = await new Promise<string | undefined>(done => {
      const socket = connect({host: readiness.host, port: readiness.port});
      socket.setTimeout(PROBE_TIMEOUT_MS, () => {
        socket.destroy();
        done('connection timed out');
      });
      socket.once('connect', () => {
        socket.end();
        done(undefined);
      });
      socket.once('error', err => done(err.message));
    });
    if (problem === undefined) return;
    lastProblem = problem;
    if (Date.now() >= deadline) {
      throw new Error(
        `${readiness.host}:${readiness.port} did not listen within ${readiness.timeoutMs} ms (${lastProblem})`,
      );
    }
    await sleep(PROBE_INTERVAL_MS);
  }
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    // fetch wraps the socket error (ECONNREFUSED, ...) in `cause`.
    const cause: unknown = err.cause;
    if (cause instanceof Error) return cause.message;
    return err.message;
  }
  return String(err);
}
