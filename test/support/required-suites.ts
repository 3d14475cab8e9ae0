/**
 * Root hook: the suites that prove the teardown guard must actually run. A renamed file,
 * a stray `.only` or a broken import elsewhere must not let CI pass with the guard
 * untested, so `npm test` (which sets ARR_REQUIRE_SUITES=1) fails when they ran too few tests.
 */
import type {Context, RootHookObject, Suite} from 'mocha';

const REQUIRED: ReadonlyArray<{suite: string; minimumPassed: number}> = [
  {suite: 'teardown guard property', minimumPassed: 1},
  {suite: 'teardownRequested', minimumPassed: 20},
];

function passedUnder(suite: Suite, title: string, inside = false): number {
  const here = inside || suite.title === title;
  let count = here
    ? suite.tests.filter(test => test.state === 'passed').length
    : 0;
  for (const child of suite.suites) count += passedUnder(child, title, here);
  return count;
}

export const mochaHooks: RootHookObject = {
  afterAll(this: Context) {
    if (process.env.ARR_REQUIRE_SUITES !== '1') return;
    let root: Suite | undefined = this.test?.parent;
    while (root?.parent) root = root.parent;
    if (!root) return;
    const shortfalls = REQUIRED.flatMap(({suite, minimumPassed}) => {
      const passed = passedUnder(root, suite);
      return passed < minimumPassed
        ? [`"${suite}": ${passed} passed, at least ${minimumPassed} required`]
        : [];
    });
    if (shortfalls.length > 0) {
      throw new Error(
        `Required test suites did not run: ${shortfalls.join('; ')}`,
      );
    }
  },
};
