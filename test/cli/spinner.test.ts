import * as assert from 'assert';
import {stripVTControlCharacters} from 'node:util';
import {Spinner} from '../../cli/spinner';

const plain = stripVTControlCharacters;

function fakeStream(columns: number | undefined) {
  const writes: string[] = [];
  return {
    writes,
    columns,
    write(text: string) {
      writes.push(text);
      return true;
    },
  };
}

describe('arr spinner', () => {
  it('redraws one line in place, cut to the terminal width', () => {
    const stream = fakeStream(30);
    const spinner = new Spinner(
      'Building arr-pytorch-base:abcdefabcdef (WORKING, 12 s)',
      stream,
    );
    spinner.render();
    const line = plain(stream.writes[0]);
    assert.ok(line.startsWith('\r'));
    assert.strictEqual(line.slice(1).length, 29);
    assert.ok(line.endsWith('…'));
    assert.ok(!line.includes('\n'));
  });

  it('works when the terminal reports no width', () => {
    for (const columns of [undefined, 0]) {
      const stream = fakeStream(columns);
      new Spinner('x'.repeat(200), stream).render();
      assert.strictEqual(plain(stream.writes[0]).slice(1).length, 79);
    }
  });

  it('clear and stop erase the line once, and only if drawn', () => {
    const stream = fakeStream(80);
    const spinner = new Spinner('text', stream);
    spinner.clear();
    assert.deepStrictEqual(stream.writes, []);
    spinner.start();
    assert.strictEqual(spinner.spinning, true);
    spinner.stop();
    assert.strictEqual(spinner.spinning, false);
    assert.strictEqual(stream.writes.at(-1), '\r\x1b[2K');
    spinner.stop();
    assert.strictEqual(stream.writes.filter(w => w === '\r\x1b[2K').length, 1);
  });
});
