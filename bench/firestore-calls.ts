/**
 * Counts the RPCs a Firestore client sends, in this process, by method and by the
 * collection they touch, through the client's two internal funnels (`request` and
 * `requestStream`). For the benchmark only: it tells the cache decision (images/,
 * builds/) apart from the bookkeeping every event writes after it: the run record (runs/)
 * and the savings counter (stats/).
 */
import {Firestore} from '@google-cloud/firestore';

type Funnel = (this: Firestore, method: string, ...rest: unknown[]) => unknown;
interface Funnels {
  request: Funnel;
  requestStream: Funnel;
}

export interface FirestoreCall {
  method: string;
  /** Top-level collections named in the request (documents, writes, parent). */
  collections: string[];
}

export class FirestoreCallCounter {
  readonly calls: FirestoreCall[] = [];
  private restore?: () => void;

  install(): this {
    const proto = Firestore.prototype as unknown as Funnels;
    const original = {
      request: proto.request,
      requestStream: proto.requestStream,
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const counter = this;
    const wrap = (funnel: Funnel, requestIndex: number): Funnel =>
      function (this: Firestore, method: string, ...rest: unknown[]) {
        counter.calls.push({
          method,
          collections: collectionsOf(rest[requestIndex]),
        });
        return funnel.call(this, method, ...rest);
      };
    proto.request = wrap(original.request, 0);
    proto.requestStream = wrap(original.requestStream, 1);
    this.restore = () => {
      proto.request = original.request;
      proto.requestStream = original.requestStream;
    };
    return this;
  }

  uninstall(): void {
    this.restore?.();
    this.restore = undefined;
  }

  clear(): void {
    this.calls.length = 0;
  }

  /** Calls touching the cache's records, and calls touching only `runs/` and `stats/`. */
  split(): {work: number; runRecord: number} {
    let work = 0;
    let runRecord = 0;
    for (const call of this.calls) {
      if (
        call.collections.length > 0 &&
        call.collections.every(c => c === 'runs' || c === 'stats')
      )
        runRecord++;
      else work++;
    }
    return {work, runRecord};
  }
}

const DOCUMENT_PATH = /\/documents\/([^/]+)/g;

function collectionsOf(request: unknown): string[] {
  const text = JSON.stringify(request ?? null);
  const found = new Set<string>();
  for (const match of text.matchAll(DOCUMENT_PATH)) found.add(match[1]);
  return [...found];
}
