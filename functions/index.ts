/**
 * Registers every function with functions-framework; the deployed source's `main`.
 * Each function also has its own entry (functions/<name>/index.ts) for per-function
 * deployment, which loads only what that function needs.
 */
import './setup-requested';
import './dockerfile-changed';
import './build-finished';
import './teardown-requested';
