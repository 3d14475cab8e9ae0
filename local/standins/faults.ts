/**
 * Fault injection for a stand-in's gRPC methods: injected error statuses (once, N times, always,
 * or with a probability drawn from a seeded generator), either before the call acts or after it
 * (the answer lost), and added latency.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import {grpc} from 'google-gax';
import {StandInError} from './grpc-errors';

/** The status a faulty call answers with. `message` defaults to "injected fault: <CODE>". */
export interface InjectedError {
  code: grpc.status;
  message?: string;
  /**
   * The answer is lost: the call acts first (the build starts, the repository is created or
   * deleted, …), then the client gets this error instead of the answer. Without it, the call
   * fails before it acts.
   */
  answerLost?: boolean;
}

/** How many calls of a method an injected error answered, before acting and after. */
export interface FiredFaults {
  beforeActing: number;
  answerLost: number;
}

type ErrorRule =
  | {kind: 'count'; remaining: number; error: InjectedError}
  | {kind: 'always'; error: InjectedError}
  | {kind: 'probability'; probability: number; error: InjectedError};

/** Deterministic 32-bit generator (mulberry32), so probabilistic faults replay with a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_FAULT_SEED = 20240601;

/**
 * Per-method error and latency faults. Error rules of one method are tried in the order they were
 * added; the first that fires answers the call. A `times` rule is used up after N firings, an
 * `always` rule never is, a `probability` rule fires with probability p and otherwise lets the
 * next rule (or the real handler) answer. Each rule's error says whether the call acts first
 * (`answerLost`) or not at all.
 */
export class MethodFaults<M extends string> {
  private readonly rules = new Map<M, ErrorRule[]>();
  private readonly latency = new Map<M | 'all', number>();
  private readonly firings = new Map<M, FiredFaults>();
  private random: () => number;

  constructor(private seedValue = DEFAULT_FAULT_SEED) {
    this.random = seededRandom(seedValue);
  }

  /** The next call of `method` fails with `error`. */
  failOnce(method: M, error: InjectedError): this {
    return this.failTimes(method, 1, error);
  }

  /** The next `times` calls of `method` fail with `error`. */
  failTimes(method: M, times: number, error: InjectedError): this {
    if (!Number.isInteger(times) || times < 1) {
      throw new Error(
        `failTimes(${method}): times must be a positive integer, got ${times}`,
      );
    }
    return this.addRule(method, {kind: 'count', remaining: times, error});
  }

  /** Every call of `method` fails with `error` until `clear(method)` or `reset()`. */
  failAlways(method: M, error: InjectedError): this {
    return this.addRule(method, {kind: 'always', error});
  }

  /** Each call of `method` fails with probability `probability` (0..1), drawn from the seeded generator. */
  failWithProbability(
    method: M,
    probability: number,
    error: InjectedError,
  ): this {
    if (!(probability >= 0 && probability <= 1)) {
      throw new Error(
        `failWithProbability(${method}): probability must be in [0, 1], got ${probability}`,
      );
    }
    return this.addRule(method, {kind: 'probability', probability, error});
  }

  /** Sets `millis` of latency before `method` (or every method, with 'all') answers; the two add up. */
  addLatency(method: M | 'all', millis: number): this {
    if (!(millis >= 0))
      throw new Error(
        `addLatency(${method}): millis must be >= 0, got ${millis}`,
      );
    this.latency.set(method, millis);
    return this;
  }

  /** Restarts the generator used by probabilistic faults. */
  seed(seed: number): this {
    this.seedValue = seed;
    this.random = seededRandom(seed);
    return this;
  }

  /** Removes the error rules and latency of one method. */
  clear(method: M): this {
    this.rules.delete(method);
    this.latency.delete(method);
    return this;
  }

  /** Removes every fault and its tally, and restarts the generator from its seed. */
  reset(): void {
    this.rules.clear();
    this.latency.clear();
    this.firings.clear();
    this.random = seededRandom(this.seedValue);
  }

  /** How many calls of `method` an injected error has answered since the last reset. */
  fired(method: M): FiredFaults {
    return {...(this.firings.get(method) ?? {beforeActing: 0, answerLost: 0})};
  }

  /**
   * One call of `method`: waits the configured latency, then, if an error rule fires, answers
   * with its error: before `act` runs, or for an `answerLost` error after it (whatever `act`
   * answered, a result or an error of its own, is lost). Otherwise answers what `act` answers.
   */
  async call<T>(method: M, act: () => T | Promise<T>): Promise<T> {
    const latency =
      (this.latency.get('all') ?? 0) + (this.latency.get(method) ?? 0);
    // No latency configured: no timer either, so a call stays within the current turn.
    if (latency > 0) await sleep(latency);
    const error = this.nextError(method);
    if (!error) return act();
    const tally = this.firings.get(method) ?? {beforeActing: 0, answerLost: 0};
    this.firings.set(method, tally);
    if (error.answerLost) {
      tally.answerLost += 1;
      await Promise.resolve()
        .then(act)
        .catch(() => undefined);
      throw new StandInError(
        error.code,
        error.message ??
          `injected fault after the call acted (answer lost): ${grpc.status[error.code]}`,
      );
    }
    tally.beforeActing += 1;
    throw new StandInError(
      error.code,
      error.message ?? `injected fault: ${grpc.status[error.code]}`,
    );
  }

  private addRule(method: M, rule: ErrorRule): this {
    const rules = this.rules.get(method) ?? [];
    rules.push(rule);
    this.rules.set(method, rules);
    return this;
  }

  private nextError(method: M): InjectedError | undefined {
    const rules = this.rules.get(method);
    if (!rules) return undefined;
    for (const rule of rules) {
      if (rule.kind === 'always') return rule.error;
      if (rule.kind === 'count') {
        rule.remaining -= 1;
        if (rule.remaining === 0) rules.splice(rules.indexOf(rule), 1);
        return rule.error;
      }
      if (this.random() < rule.probability) return rule.error;
    }
    return undefined;
  }
}
