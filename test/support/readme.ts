/**
 * The README as GitHub shows it: its headings and the anchors GitHub gives them, so that a
 * test can check a link a message or the README itself cites.
 */
import {readFileSync} from 'node:fs';
import {resolve} from 'node:path';

export const README_PATH = resolve(__dirname, '../../../README.md');

/**
 * GitHub's anchor for a heading (github-slugger's rule): lower case, every character but
 * letters, digits, `-`, `_` and spaces dropped, spaces turned into hyphens.
 */
export function githubAnchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Each heading's text (Markdown as written) and anchor; a repeated anchor gets -1, -2, … */
export function readmeHeadings(
  text: string = readFileSync(README_PATH, 'utf8'),
): Array<{text: string; anchor: string}> {
  const seen = new Map<string, number>();
  const headings: Array<{text: string; anchor: string}> = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.+?)\s*$/.exec(line);
    if (heading === null) continue;
    const base = githubAnchor(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    headings.push({
      text: heading[1],
      anchor: count === 0 ? base : `${base}-${count}`,
    });
  }
  return headings;
}
