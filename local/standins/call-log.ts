import type {ProtoObject} from './request-fields';

export interface RecordedCall<M extends string> {
  method: M;
  /** The request as the stand-in decoded it (camelCase fields, defaults omitted). */
  request: ProtoObject;
  at: Date;
}

/**
 * Every call a stand-in received, in order. A call is recorded when it arrives, before latency
 * or injected faults, so a call that an injected fault answers still counts (as a client retry
 * would in production). Seeding helpers do not record.
 */
export class CallLog<M extends string> {
  private calls: RecordedCall<M>[] = [];

  record(method: M, request: ProtoObject): void {
    this.calls.push({method, request, at: new Date()});
  }

  /** How many times `method` was called. */
  count(method: M): number {
    return this.calls.filter(call => call.method === method).length;
  }

  /** The requests of `method`, oldest first. */
  requests(method: M): ProtoObject[] {
    return this.calls
      .filter(call => call.method === method)
      .map(call => call.request);
  }

  /** Every recorded call, oldest first. */
  all(): readonly RecordedCall<M>[] {
    return [...this.calls];
  }

  /** Calls per method, for a readable assertion message. */
  counts(): Partial<Record<M, number>> {
    const counts: Partial<Record<M, number>> = {};
    for (const call of this.calls)
      counts[call.method] = (counts[call.method] ?? 0) + 1;
    return counts;
  }

  clear(): void {
    this.calls = [];
  }
}
