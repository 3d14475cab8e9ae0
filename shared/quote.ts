/**
 * Values from a message, as they may appear in a run record, a log line or a terminal.
 * A publisher controls them, so they are bounded (a 1 MiB `confirm` must not make its own
 * refusal too large to record) and their control characters are escaped (a newline and a
 * fake `✓ Deleted: …` must not print as a line of its own; ANSI escapes must not reach a
 * terminal).
 */

/** Longest quoted value, in characters; a longer one is cut and its length noted. */
export const MAX_QUOTED_LENGTH = 200;

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the
// bidirectional overrides and isolates that reorder what a terminal shows.
const UNSAFE = new RegExp(
  // eslint-disable-next-line no-control-regex
  '[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]',
  'g',
);

const NAMED: Record<string, string> = {
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** Control characters as visible escapes (`\n`, `\u001b`); everything else unchanged. */
export function escapeControlCharacters(text: string): string {
  return text.replace(
    UNSAFE,
    c => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `"value"`, escaped and bounded: `"aaaa…" (1048576 characters)` when cut. */
export function quote(value: string, mark = '"'): string {
  const escaped = escapeControlCharacters(
    value.length > MAX_QUOTED_LENGTH
      ? value.slice(0, MAX_QUOTED_LENGTH)
      : value,
  );
  return value.length > MAX_QUOTED_LENGTH
    ? `${mark}${escaped}…${mark} (${value.length} characters)`
    : `${mark}${escaped}${mark}`;
}
