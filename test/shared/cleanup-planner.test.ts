import * as assert from 'assert';
import {
  CleanupPolicy,
  describeCleanupPlan,
  planCleanup,
  VersionListing,
} from '../../shared/cleanup-planner';

const NOW = new Date('2026-11-28T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600_000);
const key = (n: number) => n.toString(16).padStart(12, '0');
const version = (
  n: number,
  tags: string[],
  ageHours: number,
): VersionListing => ({
  digest: `sha256:${String(n).padStart(64, '0')}`,
  tags,
  uploadTime: hoursAgo(ageHours),
  sizeBytes: 1000 * n,
});
const policy = (overrides: Partial<CleanupPolicy> = {}): CleanupPolicy => ({
  keepPrevious: 2,
  gracePeriodMs: 3600_000,
  maxDeletions: 50,
  ...overrides,
});

/** Versions 1..n, one key each, version n newest and current (also :latest). */
function history(n: number): VersionListing[] {
  return Array.from({length: n}, (_, i) =>
    version(
      i + 1,
      i + 1 === n ? [key(i + 1), 'latest'] : [key(i + 1)],
      100 - i,
    ),
  );
}

const deleted = (plan: ReturnType<typeof planCleanup>) =>
  plan.deletions.map(d => Number(d.digest.slice(-2)));

describe('cleanup planner', () => {
  const cases: Array<{
    what: string;
    versions: VersionListing[];
    currentKey: string;
    policy?: Partial<CleanupPolicy>;
    protectedDigests?: string[];
    protectedKeys?: string[];
    deletes: number[];
    deferred?: number[];
  }> = [
    {
      what: 'keeps the current key and the two previous keys',
      versions: history(6),
      currentKey: key(6),
      deletes: [1, 2, 3],
    },
    {
      what: 'keeps N previous keys as configured',
      versions: history(6),
      currentKey: key(6),
      policy: {keepPrevious: 0},
      deletes: [1, 2, 3, 4, 5],
    },
    {
      what: 'deletes nothing when there is nothing old',
      versions: history(3),
      currentKey: key(3),
      deletes: [],
    },
    {
      what: 'protects :latest even when it is not the current key',
      versions: [
        version(1, ['latest', key(1)], 50),
        version(2, [key(2)], 40),
        version(3, [key(3)], 30),
        version(4, [key(4)], 20),
        version(5, [key(5)], 10),
      ],
      currentKey: key(5),
      deletes: [2],
    },
    {
      what: 'never deletes inside the grace period',
      versions: [
        ...history(4).map((v, i) => ({
          ...v,
          uploadTime: hoursAgo(0.5 - i * 0.1),
        })),
      ],
      currentKey: key(4),
      policy: {keepPrevious: 0},
      deletes: [],
    },
    {
      what: 'caps deletions per run, oldest first, and defers the rest',
      versions: history(10),
      currentKey: key(10),
      policy: {maxDeletions: 3},
      deletes: [1, 2, 3],
      deferred: [4, 5, 6, 7],
    },
    {
      what: 'keeps a digest a running build uses',
      versions: history(6),
      currentKey: key(6),
      protectedDigests: [version(2, [], 0).digest],
      deletes: [1, 3],
    },
    {
      what: 'keeps what a running build of this image pushes',
      versions: history(6),
      currentKey: key(6),
      protectedKeys: [key(1)],
      deletes: [2, 3],
    },
    {
      what: 'deletes untagged versions outside the grace period',
      versions: [version(1, [], 48), version(2, [key(2), 'latest'], 1.5)],
      currentKey: key(2),
      deletes: [1],
    },
  ];

  for (const c of cases) {
    it(c.what, () => {
      const plan = planCleanup(
        {
          versions: c.versions,
          currentKey: c.currentKey,
          protectedDigests: c.protectedDigests,
          protectedKeys: c.protectedKeys,
          now: NOW,
        },
        policy(c.policy),
      );
      assert.deepStrictEqual(deleted(plan), c.deletes);
      assert.deepStrictEqual(
        plan.deferred.map(d => Number(d.digest.slice(-2))),
        c.deferred ?? [],
      );
      assert.strictEqual(
        plan.deletions.length + plan.deferred.length + plan.kept.length,
        c.versions.length,
      );
    });
  }

  it('lists every tag of a deleted version so tags go before digests', () => {
    const plan = planCleanup(
      {
        versions: [
          version(1, [key(1), 'nightly'], 100),
          ...history(4).slice(1),
        ],
        currentKey: key(4),
        now: NOW,
      },
      policy(),
    );
    assert.deepStrictEqual(plan.deletions[0].tags, [key(1), 'nightly']);
  });

  it('explains why each kept version is kept', () => {
    const plan = planCleanup(
      {versions: history(4), currentKey: key(4), now: NOW},
      policy(),
    );
    const reasons = Object.fromEntries(
      plan.kept.map(k => [Number(k.digest.slice(-2)), k.reasons]),
    );
    assert.deepStrictEqual(reasons[4], [
      'current key',
      ":latest (the next build's layer cache)",
    ]);
    assert.deepStrictEqual(reasons[3], ['previous key 1 of 2']);
    assert.deepStrictEqual(reasons[2], ['previous key 2 of 2']);
  });

  it('describes the plan as the lines an operator reads', () => {
    const plan = planCleanup(
      {versions: history(4), currentKey: key(4), now: NOW},
      policy(),
    );
    assert.deepStrictEqual(describeCleanupPlan('arr-trainer', plan), [
      '🗑 Cleanup arr-trainer: delete 1 version, keep 3',
      `   - ${version(1, [], 0).digest} (tags ${key(1)})`,
    ]);
  });
});
