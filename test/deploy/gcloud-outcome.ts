/**
 * How a gcloud command ended when run without credentials, read as "did gcloud accept
 * its arguments?". gcloud parses and checks every argument (including the resource
 * arguments it resolves locally) before it looks for credentials, so:
 * - a usage error means the plan holds a command gcloud will never run;
 * - a missing-credentials (or network) error means the arguments got through.
 * Anything else is not guessed at: it is reported, and the test fails until someone
 * reads it and extends these lists.
 */

export interface GcloudResult {
  exitCode: number;
  stderr: string;
}

export type GcloudOutcome =
  | {kind: 'accepted'; because: 'credentials' | 'network'; line: string}
  | {kind: 'rejected'; line: string}
  | {kind: 'unclassified'; line: string};

/** Usage errors, as gcloud words them (argparse's and calliope's). */
const USAGE_ERRORS: readonly RegExp[] = [
  /Invalid choice: /,
  /unrecognized arguments?: /,
  /argument [^\n]*(is required|expected one argument|Bad value|Invalid value)/,
  /value for field \[[^\]]+\] in collection \[[^\]]+\] is required/,
  /Exactly one of [^\n]* must be specified/,
  /At most one of [^\n]* can be specified/,
  /must be specified/,
  /is not a valid /,
  /\b(Invalid|Unknown|Required|Conflicting)ArgumentException\b/,
  /\bInvalidResourceException\b/,
  /\bParseError\b/,
  // A file argument gcloud reads while it parses (--policy, --message-body-from-file).
  /Unable to read file \[/,
];

const MISSING_CREDENTIALS: readonly RegExp[] = [
  /You do not currently have an active account selected/,
  /does not have any valid credentials/,
  /There was a problem refreshing your current auth tokens/,
  /Reauthentication (failed|required)/,
  /could not find default credentials/i,
];

const NO_NETWORK: readonly RegExp[] = [
  /Connection refused/,
  /Failed to establish a new connection/,
  /Max retries exceeded/,
  /NameResolutionError|Temporary failure in name resolution/,
  /Unable to find the server/,
  /ProxyError/,
  /Network is unreachable/,
];

function errorLine(stderr: string): string {
  const lines = stderr.split('\n').filter(l => l.trim() !== '');
  return (
    lines.find(l => l.startsWith('ERROR:')) ?? lines.pop() ?? '(no output)'
  );
}

/** `gcloud.a.b.c` from "ERROR: (gcloud.a.b.c) ...". */
function reportedCommand(line: string): string | undefined {
  return /^ERROR: \((gcloud(?:\.[A-Za-z0-9_-]+)*)\)/.exec(line)?.[1];
}

/** The leading words of argv before the first flag: the command and its positionals. */
function leadingWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-')) break;
    words.push(arg);
  }
  return words;
}

/** argv: the arguments after `gcloud`. */
export function classifyGcloudResult(
  argv: readonly string[],
  result: GcloudResult,
): GcloudOutcome {
  const line = errorLine(result.stderr);
  if (result.exitCode === 0) {
    return {kind: 'unclassified', line: 'exited 0 without credentials'};
  }
  if (result.exitCode === 2 || USAGE_ERRORS.some(p => p.test(result.stderr))) {
    return {kind: 'rejected', line};
  }
  const because = MISSING_CREDENTIALS.some(p => p.test(result.stderr))
    ? 'credentials'
    : NO_NETWORK.some(p => p.test(result.stderr))
      ? 'network'
      : undefined;
  if (because === undefined) {
    return {kind: 'unclassified', line};
  }
  // The error must come from the command the plan meant: gcloud names the command it
  // resolved, which is a prefix of the words before the first flag.
  const reported = reportedCommand(line);
  const intended = ['gcloud', ...leadingWords(argv)].join('.');
  if (
    reported !== undefined &&
    (reported === 'gcloud' || !`${intended}.`.startsWith(`${reported}.`))
  ) {
    return {
      kind: 'unclassified',
      line: `${line} (gcloud resolved ${reported}, not ${intended})`,
    };
  }
  return {kind: 'accepted', because, line};
}
