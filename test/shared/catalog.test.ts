import * as assert from 'assert';
import {CatalogError, imageCatalog, parseCatalog} from '../../shared/catalog';

const image = (name: string, tier: string, parent: string | null) => ({
  name,
  tier,
  dockerfile: `training/images/${name}/Dockerfile`,
  context: `training/images/${name}`,
  parent,
  buildTimeoutSeconds: 3600,
  machineType: 'E2_HIGHCPU_8',
});

describe('image catalog', () => {
  it('holds the four images, the base persistent with a long timeout', () => {
    const catalog = imageCatalog();
    assert.deepStrictEqual(catalog.names().sort(), [
      'arr-ml-stack',
      'arr-pytorch-base',
      'arr-trainer',
      'arr-vertex-launcher',
    ]);
    const base = catalog.get('arr-pytorch-base')!;
    assert.strictEqual(base.tier, 'persistent');
    assert.ok(base.buildTimeoutSeconds >= 5 * 3600);
    assert.strictEqual(catalog.get('arr-trainer')!.parent, 'arr-ml-stack');
  });

  it('orders parents before children', () => {
    const order = imageCatalog()
      .inBuildOrder()
      .map(i => i.name);
    assert.ok(
      order.indexOf('arr-pytorch-base') < order.indexOf('arr-ml-stack'),
    );
    assert.ok(order.indexOf('arr-ml-stack') < order.indexOf('arr-trainer'));
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    [
      'an unknown parent',
      {images: [image('a', 'ephemeral', 'ghost')]},
      /not in the catalog/,
    ],
    [
      'a duplicate',
      {images: [image('a', 'ephemeral', null), image('a', 'ephemeral', null)]},
      /listed twice/,
    ],
    [
      'a cycle',
      {images: [image('a', 'ephemeral', 'b'), image('b', 'ephemeral', 'a')]},
      /cycle/,
    ],
    [
      'a persistent image on an ephemeral parent',
      {images: [image('e', 'ephemeral', null), image('p', 'persistent', 'e')]},
      /cannot build FROM ephemeral/,
    ],
    ['an unknown tier', {images: [image('a', 'forever', null)]}, /tier/],
  ];
  for (const [what, raw, expected] of invalid) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseCatalog(raw),
        (error: unknown) =>
          error instanceof CatalogError && expected.test(error.message),
      );
    });
  }
});
