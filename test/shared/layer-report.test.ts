import * as assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describeLayerReport, parseLayerReport} from '../../shared/layer-report';
import {layerReuseSaving} from '../../shared/savings';

/** Status lines Docker 20.10.24's BuildKit printed here, filtered as the build step filters them. */
function fixture(name: string): string {
  return readFileSync(
    join(
      __dirname,
      '..',
      '..',
      '..',
      'test',
      'shared',
      'fixtures',
      `layer-report-${name}.txt`,
    ),
    'utf8',
  );
}

describe('layer report: how much of a build came from the cache', () => {
  it('a rebuild after a change below the expensive layer: that layer cached, the rest built', () => {
    const report = parseLayerReport(fixture('warm'));
    assert.deepEqual(report, {
      cached: 1,
      built: 2,
      builtSeconds: 0.8,
      cacheImport: 'used',
      cacheSource: '127.0.0.1:5055/p/r/bk:latest',
    });
    assert.equal(
      describeLayerReport(report!),
      '1 of 3 layers from the cache, 2 built (0.8 s)',
    );
  });

  it('a missing cache source builds cold, and the report says so', () => {
    const report = parseLayerReport(fixture('cold'));
    assert.equal(report?.cacheImport, 'missing');
    assert.equal(report?.cached, 0);
    assert.equal(report?.built, 3);
    assert.equal(report?.builtSeconds, 4.5);
    assert.match(
      describeLayerReport(report!),
      /cold: the cache source 127\.0\.0\.1:5055\/p\/r\/missing:latest could not be read/,
    );
  });

  it('--no-cache reuses nothing even with a readable cache source', () => {
    const report = parseLayerReport(fixture('no-cache'));
    assert.equal(report?.cached, 0);
    assert.equal(report?.built, 3);
  });

  it('counts stages of a multi-stage build, and nothing from output without status lines', () => {
    const report = parseLayerReport(
      [
        '#4 [compile 1/3] FROM docker.io/library/x',
        '#5 [compile 2/3] RUN make',
        '#5 CACHED',
        '#6 [stage-1 2/2] COPY --from=compile /a /a',
        '#6 DONE 0.1s',
      ].join('\n'),
    );
    assert.deepEqual(report, {
      cached: 1,
      built: 1,
      builtSeconds: 0.1,
      cacheImport: 'not-asked',
    });
    assert.equal(parseLayerReport('Successfully built 1234\n'), undefined);
  });
});

describe('layer reuse in the savings', () => {
  const report = (cached: number) => ({
    cached,
    built: 2,
    builtSeconds: 1,
    cacheImport: 'used' as const,
  });
  const build = (seconds: number, cached: number) => ({
    startTime: '2026-12-01T10:00:00.000Z',
    finishTime: new Date(
      Date.parse('2026-12-01T10:00:00.000Z') + seconds * 1000,
    ).toISOString(),
    layers: report(cached),
  });

  it("counts what a key change did not cost against the image's last cold build", () => {
    assert.equal(layerReuseSaving(build(60, 3), 3 * 3600), 3 * 3600 - 60);
  });

  it('counts nothing for a cold build, without a cold build to compare, or below zero', () => {
    assert.equal(layerReuseSaving(build(60, 0), 3600), undefined);
    assert.equal(layerReuseSaving(build(60, 3), undefined), undefined);
    assert.equal(layerReuseSaving(build(600, 3), 300), 0);
  });
});
