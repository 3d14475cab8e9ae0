/** The README sections messages point to exist, under the anchors GitHub gives them. */
import * as assert from 'assert';
import {readFileSync} from 'node:fs';
import {README_CONTEXT_DIGEST} from '../../shared/readme-links';
import {README_PATH, githubAnchor, readmeHeadings} from '../support/readme';

describe('README links', () => {
  it('anchors a heading as GitHub does: punctuation and backticks dropped, spaces turned into hyphens', () => {
    assert.strictEqual(githubAnchor('The `arr` CLI'), 'the-arr-cli');
    assert.strictEqual(
      githubAnchor('Migrating from the old single repository (manual, once)'),
      'migrating-from-the-old-single-repository-manual-once',
    );
    assert.deepStrictEqual(
      readmeHeadings(
        '## Prerequisites\n```\n# not a heading\n```\n### Prerequisites\n',
      ),
      [
        {text: 'Prerequisites', anchor: 'prerequisites'},
        {text: 'Prerequisites', anchor: 'prerequisites-1'},
      ],
    );
  });

  it('the context digest reference names a README heading and its GitHub anchor', () => {
    const [, heading, anchor] =
      /^README "([^"]+)" \(README\.md#([^)]+)\)$/.exec(README_CONTEXT_DIGEST) ??
      [];
    const found = readmeHeadings().find(h => h.text === heading);
    assert.ok(found, `README has no heading "${heading}"`);
    assert.strictEqual(anchor, found.anchor);
  });

  it("every link to a section of the README's own lands on a heading", () => {
    const anchors = new Set(readmeHeadings().map(h => h.anchor));
    const links = [
      ...readFileSync(README_PATH, 'utf8').matchAll(/\]\(#([^)]+)\)/g),
    ].map(m => m[1]);
    assert.ok(links.length > 0);
    assert.deepStrictEqual(
      links.filter(link => !anchors.has(link)),
      [],
    );
  });
});
