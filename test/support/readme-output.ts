/**
 * The README's output blocks, and whether a command's real output is what a block shows.
 *
 * An output block is a fenced block whose first line is a command, `$ <command>`; each
 * `$ ` line starts a command, and the lines after it, up to the next one, are what it printed
 * (stdout and stderr as one terminal shows them). The README's conventions are the only
 * liberties a block may take with the real output:
 *
 * - a line that is just `…` stands for lines left out (any number, none included: see
 *   `matchOutput` for where they may be);
 * - a line ending in `…` is a longer line cut there (the README cuts lines over 200
 *   characters, before a value that varies if the cut would split one);
 * - the values that differ from one run to the next are masked on both sides, and only
 *   those (`VARYING`).
 */

/** One line of an output block, as the README has it; `line` is its line number there. */
export type ExpectedLine =
  | {readonly kind: 'line'; readonly text: string; readonly line: number}
  | {readonly kind: 'elision'; readonly line: number};

export interface ReadmeCommand {
  /** As typed, without the `$ `. */
  readonly command: string;
  /** The README line the command is on (1-based). */
  readonly line: number;
  readonly output: readonly ExpectedLine[];
}

export interface OutputBlock {
  /** The README line of the opening fence. */
  readonly line: number;
  readonly commands: readonly ReadmeCommand[];
}

export const ELISION = '…';
const PROMPT = '$ ';

/** Every output block of `markdown`, in order. */
export function outputBlocks(markdown: string): OutputBlock[] {
  const blocks: OutputBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('```')) continue;
    const fence = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) {
      body.push(lines[i]);
    }
    if (!body[0]?.startsWith(PROMPT)) continue;
    const commands: Array<{
      command: string;
      line: number;
      output: ExpectedLine[];
    }> = [];
    body.forEach((text, index) => {
      const line = fence + 2 + index;
      if (text.startsWith(PROMPT)) {
        commands.push({command: text.slice(PROMPT.length), line, output: []});
      } else {
        commands[commands.length - 1].output.push(
          text === ELISION
            ? {kind: 'elision', line}
            : {kind: 'line', text, line},
        );
      }
    });
    blocks.push({line: fence + 1, commands});
  }
  return blocks;
}

/**
 * What differs between two runs of the same walkthrough on the same tree, masked before
 * lines are compared, each with why it varies. Nothing else is: cache keys, Dockerfile
 * hashes and context digests come from the example tree's bytes, upload sizes from a
 * reproducible archive, image sizes from Debian's busybox-static, layer counts from an engine
 * that starts with no build cache, the engine version from Debian's docker.io: they are
 * compared as they are.
 */
export const VARYING: ReadonlyArray<{
  readonly what: string;
  readonly pattern: RegExp;
  readonly mask: string;
}> = [
  {
    what: 'ports: every listener of the stack takes a free one',
    pattern: /127\.0\.0\.1:\d+/g,
    mask: '127.0.0.1:PORT',
  },
  {
    what: 'image digests: an image config records when it was built',
    pattern: /sha256:[0-9a-f]{12}(?:[0-9a-f]{52})?\b/g,
    mask: 'sha256:DIGEST',
  },
  {
    what: 'Cloud Build ids: a UUID per build',
    pattern:
      /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g,
    mask: 'BUILD-ID',
  },
  {
    what: "the stack's pid",
    pattern: /\bpid \d+/g,
    mask: 'pid PID',
  },
  {
    what: 'where the checkout (and so the state file) is',
    pattern: /(?:\/|\.\.\/)\S*\.local-stack\/state\.json/g,
    mask: '.local-stack/state.json',
  },
  {
    what: 'times: how long a build or a step took, and when an image was built',
    pattern:
      /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z|\b\d+(?:\.\d+)? (?:s|min|h)\b/g,
    mask: 'TIME',
  },
  {
    what: "Pub/Sub message ids: the emulator numbers messages as they come, and concurrent builds' notifications come in either order",
    pattern: /\bmessage \d+\b/g,
    mask: 'message N',
  },
  {
    what: 'requests that were redeliveries: Pub/Sub delivers at least once, and a slow machine gets a message again (absorbed as a duplicate); builds started and cache hits do not vary',
    pattern:
      /\b\d+ builds requested, (\d+ started), \d+ avoided \((\d+ cache hits?), \d+ duplicates? absorbed\)/g,
    mask: 'N builds requested, $1, N avoided ($2, N duplicates absorbed)',
  },
  {
    what: "the rates of the builds avoided: an absorbed redelivery adds its build's machine type",
    pattern: /(?<=at Cloud Build list prices \()[^)]*(?=; \d{4}-\d\d-\d\d\))/g,
    mask: 'RATES',
  },
  {
    // Last: the widths of the masked values above set a table's padding.
    what: 'the padding of a table column, which follows the widths of the values above',
    pattern: /(?<=\S) {2,}/g,
    mask: '  ',
  },
];

/** `line` with every varying value masked. */
export function maskVarying(line: string): string {
  return VARYING.reduce(
    (text, {pattern, mask}) => text.replace(pattern, mask),
    line,
  );
}

/** Whether the README's `expected` shows the real line `actual` (both as printed). */
export function lineMatches(expected: string, actual: string): boolean {
  const want = maskVarying(expected);
  const got = maskVarying(actual);
  if (want === got) return true;
  // Cut: what is left of it is the start of the real line.
  if (!expected.endsWith(ELISION)) return false;
  const start = maskVarying(expected.slice(0, -ELISION.length));
  return got.length > start.length && got.startsWith(start);
}

/**
 * Which run a line of `arr`'s output reports on. `arr` prints the lines of every run its
 * message led to as they happen: the lines of one run come in order, but runs go on at the
 * same time (a dependent's run while its parent's build-finished run records the parent),
 * so their lines interleave differently from one run of the walkthrough to the next.
 *
 * - `   [label] …`: a run the first one led to (README: "Lines in `[brackets]` …");
 * - `   ✓ Build <image>:<key> …` (or `…`, `✗`): `arr` on a followed build's status;
 * - anything else: `arr` itself and the run its message started.
 */
export function streamOf(line: string): string {
  const run = /^ {3}\[([^\]]+)\] /.exec(line);
  if (run) return `[${run[1]}]`;
  const build = /^ {3}[✓…✗] Build ([\w.-]+:[0-9a-f]{12})\b/.exec(line);
  if (build) return `build ${build[1]}`;
  return '';
}

export interface Mismatch {
  /** Which lines of the output (streamOf) did not match: '' for the main ones. */
  readonly stream: string;
  /** The README line that has no match, or undefined when real lines are left over. */
  readonly expected?: {readonly text: string; readonly line: number};
  /** The real lines of that stream from where the match stopped. */
  readonly actualFrom: readonly string[];
}

type Pattern = Array<{text: string; line: number} | 'gap'>;

/**
 * Whether `actual` (a command's real output, one string per line) is what the README shows.
 *
 * Each stream of lines (streamOf) is matched on its own, in order: every README line of
 * the stream must match the next real line of it, except where the README has a `…` line
 * between them (or before the stream's first line, or after its last), which stands for
 * any number of that stream's lines, or none. A stream the block never shows must be left
 * out altogether, which needs a `…` in the block. The order in which different streams'
 * lines interleave is the only thing that is not compared.
 *
 * Returns undefined on a match, else the first README line (in README order) that could
 * not be matched.
 */
export function matchOutput(
  expected: readonly ExpectedLine[],
  actual: readonly string[],
): Mismatch | undefined {
  const real = [...actual];
  while (real.length > 0 && real[real.length - 1].trim() === '') real.pop();
  const streams = new Set<string>();
  for (const e of expected)
    if (e.kind === 'line') streams.add(streamOf(e.text));
  for (const line of real) streams.add(streamOf(line));

  const mismatches: Mismatch[] = [];
  for (const stream of streams) {
    const pattern: Pattern = [];
    for (const e of expected) {
      if (e.kind === 'elision') {
        if (pattern[pattern.length - 1] !== 'gap') pattern.push('gap');
      } else if (streamOf(e.text) === stream) {
        pattern.push({text: e.text, line: e.line});
      }
    }
    const lines = real.filter(line => streamOf(line) === stream);
    const mismatch = matchStream(pattern, lines);
    if (mismatch !== undefined) mismatches.push({stream, ...mismatch});
  }
  // The one to show: the earliest in the README, or else left-over real lines.
  return mismatches.sort(
    (a, b) => (a.expected?.line ?? Infinity) - (b.expected?.line ?? Infinity),
  )[0];
}

/** Glob matching of one stream; on failure, how far the longest partial match got. */
function matchStream(
  pattern: Pattern,
  lines: readonly string[],
): Omit<Mismatch, 'stream'> | undefined {
  // The real positions at which the next pattern item may start.
  let positions = new Set<number>([0]);
  for (let i = 0; i < pattern.length; i++) {
    const item = pattern[i];
    const next = new Set<number>();
    for (const j of positions) {
      if (item === 'gap') {
        for (let k = j; k <= lines.length; k++) next.add(k);
      } else if (j < lines.length && lineMatches(item.text, lines[j])) {
        next.add(j + 1);
      }
    }
    if (next.size === 0) {
      const at = Math.min(...positions);
      return {
        expected: item === 'gap' ? undefined : item,
        actualFrom: lines.slice(at),
      };
    }
    positions = next;
  }
  if (positions.has(lines.length)) return undefined;
  return {actualFrom: lines.slice(Math.max(...positions))};
}

/** A failure message: the command, the README line without a match, and the real output. */
export function describeMismatch(
  command: ReadmeCommand,
  mismatch: Mismatch,
  actual: readonly string[],
): string {
  const stream = mismatch.stream === '' ? 'its own lines' : mismatch.stream;
  const what =
    mismatch.expected === undefined
      ? `real lines of ${stream} that README line ${command.line}'s block neither shows nor marks left out (…):`
      : `README.md:${mismatch.expected.line} has no match among the real lines of ${stream}:\n` +
        `  README: ${mismatch.expected.text}\n` +
        `  masked: ${maskVarying(mismatch.expected.text)}\n` +
        'where the real lines of it were:';
  return [
    `$ ${command.command} (README.md:${command.line}): ${what}`,
    ...mismatch.actualFrom.slice(0, 5).map(line => `  real:   ${line}`),
    '--- the whole real output ---',
    ...actual,
  ].join('\n');
}

/**
 * Lines a block leaves out, because which of them a run prints depends on timing:
 * - `arr`'s live status of a followed build (`… Build <image>:<key>: QUEUED (build …)`, its
 *   progress `… Build …: step 1/3 build · 0.2 s …`): what a listener or a poll caught;
 * - the status change a build-finished run found (`ℹ <image>:<key> build …: WORKING → SUCCESS`):
 *   which notification's run recorded first.
 */
export const TIMING_DEPENDENT: readonly RegExp[] = [
  /^ {3}… Build [\w.-]+:[0-9a-f]{12}: /,
  /^ {3}\[build [^\]]+\] ℹ [\w.-]+:[0-9a-f]{12} build \S+: [A-Z_]+ → [A-Z_]+$/,
];

/** How long a README output line may be before it is cut (and ends in `…`). */
export const README_LINE_LIMIT = 200;

/**
 * A command's real output as a README block shows it: the timing-dependent lines left out
 * (one `…` for each run of them), and lines over README_LINE_LIMIT characters cut, before
 * any value that varies that the cut would split (so that the rest still matches).
 * For regenerating the README's blocks (readme-output.test.ts, ARR_README_OUTPUT_DUMP).
 */
export function readmeLinesOf(output: readonly string[]): string[] {
  const real = [...output];
  while (real.length > 0 && real[real.length - 1].trim() === '') real.pop();
  const lines: string[] = [];
  for (const line of real) {
    if (TIMING_DEPENDENT.some(pattern => pattern.test(line))) {
      if (lines[lines.length - 1] !== ELISION) lines.push(ELISION);
    } else {
      lines.push(cut(line));
    }
  }
  return lines;
}

function cut(line: string): string {
  const characters = [...line];
  if (characters.length <= README_LINE_LIMIT) return line;
  let end = characters.slice(0, README_LINE_LIMIT).join('').length;
  for (const {pattern} of VARYING) {
    for (const match of line.matchAll(pattern)) {
      const [start, stop] = [match.index, match.index + match[0].length];
      if (start < end && end < stop) end = start;
    }
  }
  return `${line.slice(0, end)}${ELISION}`;
}
