/**
 * functions/index.ts, the deployed source's `main`, registers exactly the entry points of
 * the function specs: deploy points each function at its spec's entry point and the local
 * stack serves them by it, so one missing or extra registration would go unnoticed there.
 */
import * as assert from 'assert';
import {dirname, join, resolve} from 'node:path';
import {getFunction} from '@google-cloud/functions-framework/testing';
import {FUNCTION_SPECS} from '../../shared/function-specs';

type Register = (name: string, handler: unknown) => void;
interface Registry {
  cloudEvent: Register;
  http: Register;
}

const FUNCTIONS_BUILD = resolve(__dirname, '../../functions');

describe('functions/index.ts', () => {
  const savedProject = process.env.GOOGLE_CLOUD_PROJECT;
  let registry: Registry;
  let original: Registry;

  before(async () => {
    // The package exports only its index, whose cloudEvent and http read through to this
    // module on every call: replacing them here sees every registration.
    const path = join(
      dirname(require.resolve('@google-cloud/functions-framework')),
      'function_registry.js',
    );
    registry = (await import(path)) as Registry;
    original = {cloudEvent: registry.cloudEvent, http: registry.http};
  });

  after(() => {
    Object.assign(registry, original);
    if (savedProject === undefined) delete process.env.GOOGLE_CLOUD_PROJECT;
    else process.env.GOOGLE_CLOUD_PROJECT = savedProject;
  });

  it('registers exactly the entry points in FUNCTION_SPECS', async () => {
    const registered: string[] = [];
    const spy =
      (register: Register): Register =>
      (name, handler) => {
        registered.push(name);
        register(name, handler);
      };
    registry.cloudEvent = spy(original.cloudEvent);
    registry.http = spy(original.http);
    // Loading the functions builds their context from the environment (clients stay unbuilt).
    process.env.GOOGLE_CLOUD_PROJECT ??= 'arr-entry-points';
    // Loaded afresh, in case another suite of this run loaded them already.
    for (const file of Object.keys(require.cache)) {
      if (file.startsWith(FUNCTIONS_BUILD)) delete require.cache[file];
    }
    await import(join(FUNCTIONS_BUILD, 'index.js'));

    const entryPoints = FUNCTION_SPECS.map(spec => spec.entryPoint);
    assert.deepStrictEqual([...registered].sort(), [...entryPoints].sort());
    for (const entryPoint of entryPoints) {
      assert.strictEqual(
        typeof getFunction(entryPoint),
        'function',
        entryPoint,
      );
    }
  });
});
