/**
 * Global fixture: the suites that prove the teardown guard must actually run. A renamed file,
 * a stray `.only` or a broken import elsewhere must not let CI pass with the guard untested,
 * so `npm test` (which sets ARR_REQUIRE_SUITES=1) fails when they ran too few tests.
 *
 * It counts in mocha's main process, from the runner's events, which carry every worker's
 * results in a parallel run.
 */
import type {Runner, Test} from 'mocha';

export const REQUIRED: ReadonlyArray<{suite: string; minimumPassed: number}> = [
  {suite: 'teardown guard property', minimumPassed: 1},
  {suite: 'teardownRequested', minimumPassed: 20},
];

/** How many of the passed tests (their title paths) ran under each required suite. */
export function requiredSuiteShortfalls(
  passed: ReadonlyArray<readonly string[]>,
): string[] {
  return REQUIRED.flatMap(({suite, minimumPassed}) => {
    // The test's own title is the path's last entry, not a suite.
    const count = passed.filter(path =>
      path.slice(0, -1).includes(suite),
    ).length;
    return count < minimumPassed
      ? [`"${suite}": ${count} passed, at least ${minimumPassed} required`]
      : [];
  });
}

const passed: string[][] = [];

export function mochaGlobalSetup(this: Runner): void {
  this.on('pass', (test: Test) => passed.push(test.titlePath()));
}

export function mochaGlobalTeardown(): void {
  if (process.env.ARR_REQUIRE_SUITES !== '1') return;
  const shortfalls = requiredSuiteShortfalls(passed);
  if (shortfalls.length === 0) return;
  process.stderr.write(
    `\nRequired test suites did not run: ${shortfalls.join('; ')}\n`,
  );
  // Mocha sets the exit code from the failure count once the run is done, and ignores an
  // error thrown here in a serial run: exit now, after the reporter's summary.
  process.exit(1);
}
