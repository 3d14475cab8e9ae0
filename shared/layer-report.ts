/**
 * How much of an image build reused earlier layers, read from the build's own output: the
 * image build step (cloudbuild/image-build.json) writes BuildKit's plain-progress status lines
 * to $BUILDER_OUTPUT/output, which Cloud Build returns in `results.buildStepOutputs`.
 *
 *   #5 [2/4] RUN make torch        a Dockerfile instruction (a FROM is not a layer built here)
 *   #5 CACHED                      its layer came from the cache
 *   #7 DONE 0.8s                   it ran
 *   #4 importing cache manifest from …:latest, then `#4 DONE` (used) or `#4 ERROR: …` (absent)
 */

export type CacheImport = 'used' | 'missing' | 'not-asked';

export interface LayerReport {
  /** Instructions whose layer came from the cache. */
  cached: number;
  /** Instructions that ran. */
  built: number;
  /** Seconds the built instructions took, as BuildKit timed them. */
  builtSeconds: number;
  /** Whether the cache source (`--cache-from`) could be read. */
  cacheImport: CacheImport;
  /** What the cache source was, when one was asked for. */
  cacheSource?: string;
}

const INSTRUCTION = /^#(\d+) \[(?:[\w.-]+ )?\d+\/\d+\] (\S+)/;
const CACHED = /^#(\d+) CACHED\s*$/;
const DONE = /^#(\d+) DONE (\d+(?:\.\d+)?)s/;
const ERROR = /^#(\d+) ERROR\b/;
const IMPORT = /^#(\d+) importing cache manifest from (\S+)/;

/** The report in `output`, or undefined when it holds no BuildKit status lines. */
export function parseLayerReport(output: string): LayerReport | undefined {
  const instructions = new Set<string>();
  const cached = new Set<string>();
  const done = new Map<string, number>();
  const failed = new Set<string>();
  let cacheVertex: string | undefined;
  let cacheSource: string | undefined;
  for (const line of output.split('\n')) {
    let match: RegExpExecArray | null;
    if ((match = IMPORT.exec(line))) {
      [cacheVertex, cacheSource] = [match[1], match[2]];
    } else if ((match = INSTRUCTION.exec(line))) {
      if (match[2] !== 'FROM') instructions.add(match[1]);
    } else if ((match = CACHED.exec(line))) {
      cached.add(match[1]);
    } else if ((match = DONE.exec(line))) {
      done.set(match[1], Number(match[2]));
    } else if ((match = ERROR.exec(line))) {
      failed.add(match[1]);
    }
  }
  if (instructions.size === 0) return undefined;
  let [reused, ran, seconds] = [0, 0, 0];
  for (const vertex of instructions) {
    if (cached.has(vertex)) reused += 1;
    else if (done.has(vertex)) {
      ran += 1;
      seconds += done.get(vertex) ?? 0;
    }
  }
  const cacheImport: CacheImport =
    cacheVertex === undefined
      ? 'not-asked'
      : failed.has(cacheVertex) || !done.has(cacheVertex)
        ? 'missing'
        : 'used';
  return {
    cached: reused,
    built: ran,
    builtSeconds: Math.round(seconds * 10) / 10,
    cacheImport,
    ...(cacheSource ? {cacheSource} : {}),
  };
}

/** "2 of 3 layers from the cache", "cold: … not found", for run lines and `arr status`. */
export function describeLayerReport(report: LayerReport): string {
  const total = report.cached + report.built;
  const layers = `${report.cached} of ${total} layer${total === 1 ? '' : 's'} from the cache, ${report.built} built (${report.builtSeconds} s)`;
  if (report.cacheImport === 'missing') {
    const source = report.cacheSource ? ` ${report.cacheSource}` : '';
    return report.cached === 0
      ? `${layers}; cold: the cache source${source} could not be read`
      : `${layers}; the cache source${source} could not be read: the cached layers are this engine's own`;
  }
  return layers;
}
