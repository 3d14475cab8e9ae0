/**
 * Serves function targets over HTTP with functions-framework on loopback, one
 * process group per target (functions-framework serves exactly one target), and
 * wires Pub/Sub emulator push subscriptions to them. The emulator then POSTs
 * each message as `{message, subscription}`; functions-framework turns it
 * into a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent, as
 * Eventarc does in production.
 */
import {randomUUID} from 'node:crypto';
import {join, resolve} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import type {PubSub, Subscription} from '@google-cloud/pubsub';
import {LOOPBACK, findFreePort, waitForListening} from './ports';
import {ExitStatus, ProcessGroup} from './process-group';

export interface FunctionHostOptions {
  /** Compiled JavaScript file or directory that registers the target. */
  readonly source: string;
  /** Name the function was registered under, e.g. `setupRequested`. */
  readonly target: string;
  /** Default: a free loopback port. */
  readonly port?: number;
  /** Added to this process's environment: emulator hosts, stand-in endpoints, config. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the server to listen; default 30 s. */
  readonly startTimeoutMs?: number;
  /**
   * Start it again, on the same port, when it exits without being asked to
   * (a crash, a kill): Pub/Sub redelivers what it did not acknowledge. After
   * RESTART_LIMIT exits within a minute it stays down. Default false.
   */
  readonly restart?: boolean;
  /** Each line the function writes (its logs, JSON), once it serves. */
  readonly onLine?: (line: string) => void;
  /** It exited unasked, was started again, or stays down. */
  readonly onEvent?: (event: FunctionHostEvent) => void;
}

export type FunctionHostEvent =
  | {
      readonly kind: 'exited';
      readonly target: string;
      readonly pid: number;
      readonly exit: ExitStatus;
      /** Whether it is being started again. */
      readonly restarting: boolean;
    }
  | {
      readonly kind: 'restarted';
      readonly target: string;
      readonly pid: number;
      readonly url: string;
      readonly restarts: number;
    }
  | {
      readonly kind: 'gave-up';
      readonly target: string;
      readonly reason: string;
    };

/** Exits within a minute after which a function is left down. */
export const RESTART_LIMIT = 5;
const RESTART_WINDOW_MS = 60_000;

export interface RunningFunctionHost {
  readonly target: string;
  /** Base URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** The process group serving now (a restart starts a new one). */
  readonly pgid: number;
  /** Tail of the function's stdout/stderr (its logs), across restarts. */
  readonly output: string;
  /** How often it was started again after exiting unasked. */
  readonly restarts: number;
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;

/** functions-framework's app served on loopback (its own CLI listens on every interface). */
const LOOPBACK_SERVER = join(__dirname, 'functions-framework-on-loopback.js');

export async function startFunctionHost(
  options: FunctionHostOptions,
): Promise<RunningFunctionHost> {
  const port = options.port ?? (await findFreePort());
  const url = `http://${LOOPBACK}:${port}`;
  const target = options.target;
  const emit = (event: FunctionHostEvent) => options.onEvent?.(event);

  /** Starts one functions-framework process group and waits until it serves. */
  const launch = async (): Promise<ProcessGroup> => {
    let serving = false;
    // functions-framework prints a banner as it starts listening, which can
    // reach us just after it answers: it ends with the URL line.
    let bannerDone = false;
    const isBanner = (line: string) => {
      if (bannerDone) return false;
      if (line.startsWith(`URL: ${url}/`)) bannerDone = true;
      return /^(Serving function\.\.\.|Function: |URL: http:\/\/)/.test(line);
    };
    const group = await ProcessGroup.start({
      name: `functions-framework (${target})`,
      command: process.execPath,
      args: [
        LOOPBACK_SERVER,
        `--target=${target}`,
        `--source=${resolve(options.source)}`,
        `--port=${port}`,
      ],
      env: {...process.env, ...options.env},
      marker: `--port=${port}`,
      // Its start-up banner stays in the output tail; from then on, every line.
      onLine:
        options.onLine === undefined
          ? undefined
          : line => {
              if (isBanner(line) || !serving) return;
              options.onLine?.(line);
            },
    });
    try {
      // functions-framework loads the function, then listens. (An HTTP probe
      // would run its CloudEvent middleware, which logs a TypeError for a GET.)
      await waitForListening({
        host: LOOPBACK,
        port,
        timeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
        abandon: () => {
          const exit = group.exitedWith;
          if (exit === undefined) return undefined;
          return `the process exited (${exit.signal ?? `code ${exit.code}`})`;
        },
      });
    } catch (err) {
      await group.stop();
      throw new Error(
        `functions-framework did not serve target ${target} from ${options.source}: ` +
          `${(err as Error).message}\n--- output ---\n${group.output.trim() || '(none)'}\n---`,
      );
    }
    serving = true;
    return group;
  };

  let group = await launch();
  let earlierOutput = '';
  let restarts = 0;
  let stopped = false;
  let restarting: Promise<void> | undefined;
  const exits: number[] = [];

  const supervise = (current: ProcessGroup) => {
    void current.exited.then(exit => {
      if (stopped || current.stopRequested || current !== group) return;
      restarting = restartAfter(current, exit);
    });
  };

  const restartAfter = async (
    crashed: ProcessGroup,
    exit: ExitStatus,
  ): Promise<void> => {
    const now = Date.now();
    exits.push(now);
    while (exits.length > 0 && exits[0] < now - RESTART_WINDOW_MS) {
      exits.shift();
    }
    const again = options.restart === true && exits.length <= RESTART_LIMIT;
    emit({kind: 'exited', target, pid: crashed.pgid, exit, restarting: again});
    // Whatever it started goes with it.
    await crashed.stop({graceMs: 1_000});
    earlierOutput = (earlierOutput + crashed.output).slice(-16 * 1024);
    if (!options.restart) return;
    if (!again) {
      emit({
        kind: 'gave-up',
        target,
        reason: `it exited ${exits.length} times within a minute`,
      });
      return;
    }
    for (let attempt = 1; !stopped; attempt++) {
      await sleep(Math.min(250 * 2 ** (attempt - 1), 4_000));
      if (stopped) return;
      try {
        const next = await launch();
        if (stopped) {
          await next.stop({graceMs: 2_000});
          return;
        }
        group = next;
        restarts++;
        supervise(next);
        emit({kind: 'restarted', target, pid: next.pgid, url, restarts});
        return;
      } catch (err) {
        if (attempt >= 3) {
          emit({
            kind: 'gave-up',
            target,
            reason: `it did not start again: ${(err as Error).message.split('\n')[0]}`,
          });
          return;
        }
      }
    }
  };

  supervise(group);
  return {
    target,
    url,
    port,
    get pgid() {
      return group.pgid;
    },
    get output() {
      return (earlierOutput + group.output).slice(-16 * 1024);
    },
    get restarts() {
      return restarts;
    },
    stop: async () => {
      stopped = true;
      await restarting;
      await group.stop({graceMs: 2_000});
    },
  };
}

/**
 * The push endpoint for `topic`. functions-framework reads the topic of the
 * CloudEvent (`source`) from this path: it must contain
 * `projects/P/topics/T`, or the event has no topic.
 */
export function pushEndpointFor(
  baseUrl: string,
  projectId: string,
  topic: string,
): string {
  return `${baseUrl}/projects/${projectId}/topics/${topic}`;
}

export interface PushSubscriptionOptions {
  readonly pubsub: PubSub;
  readonly topic: string;
  readonly subscription: string;
  readonly pushEndpoint: string;
  /**
   * Default 60 s. At 10 s (Pub/Sub's minimum) a setup on a loaded machine outlived its
   * deadline and was delivered a second time while the first still ran; Cloud Run's own
   * advice for push subscriptions is the 600 s maximum.
   */
  readonly ackDeadlineSeconds?: number;
}

/**
 * Creates the topic if needed and a push subscription on it. A topic that
 * already exists is fine (several hosts may share one); a subscription that
 * already exists is an error, since it may push elsewhere.
 */
export async function wirePushSubscription(
  options: PushSubscriptionOptions,
): Promise<Subscription> {
  const topic = options.pubsub.topic(options.topic);
  const [topicExists] = await topic.exists();
  if (!topicExists) {
    try {
      await topic.create();
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  const [subscription] = await topic.createSubscription(options.subscription, {
    pushConfig: {pushEndpoint: options.pushEndpoint},
    ackDeadlineSeconds: options.ackDeadlineSeconds ?? 60,
  });
  return subscription;
}

function isAlreadyExists(err: unknown): boolean {
  // gRPC status 6 = ALREADY_EXISTS.
  return (err as {code?: unknown}).code === 6;
}

export interface ServeFunctionsOptions {
  /** Compiled source that registers every target, e.g. build/functions/index.js. */
  readonly source: string;
  /** Which target each topic delivers to, e.g. {'setup-requested': 'setupRequested'}. */
  readonly routes: Readonly<Record<string, string>>;
  readonly pubsub: PubSub;
  readonly projectId: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly ackDeadlineSeconds?: number;
  /** Start a function again when it exits unasked (see FunctionHostOptions.restart). */
  readonly restart?: boolean;
  /** Each line a function writes, once it serves. */
  readonly onLine?: (target: string, line: string) => void;
  readonly onEvent?: (event: FunctionHostEvent) => void;
}

export interface ServedFunctions {
  /** Base URL of each target's server, by target name. */
  readonly urls: Readonly<Record<string, string>>;
  /** Push endpoint of each topic (where a test can POST a push body itself). */
  readonly pushEndpoints: Readonly<Record<string, string>>;
  /** Push subscription name of each topic. */
  readonly subscriptions: Readonly<Record<string, string>>;
  readonly hosts: readonly RunningFunctionHost[];
  /** Deletes the subscriptions, then stops every server. */
  stop(): Promise<void>;
}

/**
 * One functions-framework process per target, and a push subscription from
 * each topic to its target. Subscription names are unique, so parallel or
 * successive uses on one emulator do not see each other's deliveries.
 */
export async function serveFunctions(
  options: ServeFunctionsOptions,
): Promise<ServedFunctions> {
  const targets = [...new Set(Object.values(options.routes))];
  const started = await Promise.allSettled(
    targets.map(target =>
      startFunctionHost({
        source: options.source,
        target,
        env: options.env,
        restart: options.restart,
        onLine:
          options.onLine === undefined
            ? undefined
            : line => options.onLine?.(target, line),
        onEvent: options.onEvent,
      }),
    ),
  );
  const hosts = started.flatMap(r =>
    r.status === 'fulfilled' ? [r.value] : [],
  );
  const stopHosts = () => Promise.all(hosts.map(host => host.stop()));
  const failure = started.find(r => r.status === 'rejected');
  if (failure !== undefined) {
    await stopHosts();
    throw (failure as PromiseRejectedResult).reason;
  }

  const urls = Object.fromEntries(hosts.map(host => [host.target, host.url]));
  const pushEndpoints: Record<string, string> = {};
  const subscriptionNames: Record<string, string> = {};
  const subscriptions: Subscription[] = [];
  const stop = async () => {
    // Subscriptions first, so the emulator stops pushing to closed ports.
    await Promise.all(subscriptions.map(s => s.delete().catch(() => {})));
    await stopHosts();
  };
  try {
    for (const [topic, target] of Object.entries(options.routes)) {
      const pushEndpoint = pushEndpointFor(
        urls[target],
        options.projectId,
        topic,
      );
      const name = `${topic}-push-${randomUUID().slice(0, 8)}`;
      subscriptions.push(
        await wirePushSubscription({
          pubsub: options.pubsub,
          topic,
          subscription: name,
          pushEndpoint,
          ackDeadlineSeconds: options.ackDeadlineSeconds,
        }),
      );
      pushEndpoints[topic] = pushEndpoint;
      subscriptionNames[topic] = name;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    urls,
    pushEndpoints,
    subscriptions: subscriptionNames,
    hosts,
    stop,
  };
}

/** A Pub/Sub message as a push subscription delivers it. */
export interface PushMessage {
  /** Payload, base64-encoded for the wire (strings as UTF-8). */
  readonly data?: string | Uint8Array;
  /** Put verbatim in `message.data` instead, e.g. to send data that is not base64. */
  readonly rawData?: string;
  readonly attributes?: Readonly<Record<string, string>>;
  /** Default: a fresh numeric id, as the emulator assigns. */
  readonly messageId?: string;
  /** Default: now. */
  readonly publishTime?: string;
  /** Full subscription name; default projects/P/subscriptions/direct-post. */
  readonly subscription?: string;
}

export interface PushBody {
  readonly subscription: string;
  readonly message: {
    readonly data?: string;
    readonly attributes?: Readonly<Record<string, string>>;
    readonly messageId: string;
    readonly message_id: string;
    readonly publishTime: string;
    readonly publish_time: string;
  };
}

let directMessageCount = 0;

/**
 * The JSON body a Pub/Sub push subscription POSTs, field for field (both the
 * camelCase and the snake_case ids and times, as the service sends them).
 */
export function pushBody(message: PushMessage, projectId: string): PushBody {
  const data =
    message.rawData ??
    (message.data === undefined
      ? undefined
      : Buffer.from(message.data).toString('base64'));
  const messageId = message.messageId ?? `${Date.now()}${++directMessageCount}`;
  const publishTime = message.publishTime ?? new Date().toISOString();
  return {
    subscription:
      message.subscription ?? `projects/${projectId}/subscriptions/direct-post`,
    message: {
      ...(data === undefined ? {} : {data}),
      ...(message.attributes === undefined
        ? {}
        : {attributes: message.attributes}),
      messageId,
      message_id: messageId,
      publishTime,
      publish_time: publishTime,
    },
  };
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * POSTs a message to a push endpoint (see pushEndpointFor) exactly as the
 * emulator would, bypassing Pub/Sub, and returns the function's HTTP answer.
 * For tests of what a function does with bodies Pub/Sub would not produce
 * by itself (data that is not base64, not JSON, missing fields).
 */
export async function postPushMessage(
  pushEndpoint: string,
  message: PushMessage,
  projectId: string,
): Promise<HttpAnswer> {
  return postJson(pushEndpoint, pushBody(message, projectId));
}

/** POSTs any JSON body to a function; for bodies no subscription would send. */
export async function postJson(
  url: string,
  body: unknown,
): Promise<HttpAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify(body),
  });
  return {status: response.status, body: await response.text()};
}
