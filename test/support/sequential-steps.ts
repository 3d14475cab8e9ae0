/**
 * For a suite whose tests are the steps of one scenario, each building on the one before:
 * after a failure the later steps would only repeat it, so they are skipped, and what the
 * failure left is shown once.
 */
import type {Context} from 'mocha';

export function stopAtFirstFailure(onFailure: () => void): void {
  let broken = false;
  beforeEach(function (this: Context) {
    if (broken) this.skip();
  });
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed') {
      broken = true;
      onFailure();
    }
  });
}
