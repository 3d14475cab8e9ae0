/**
 * Serves one function registered with functions-framework on 127.0.0.1 only.
 * functions-framework's own CLI has no host option: it listens on every
 * interface, so anyone on the user's network could POST a teardown. This is
 * its CLI with that one difference: the same app (`getTestServer` builds it
 * with `getServer`, as the CLI does), bound to loopback.
 *
 * Usage: node functions-framework-on-loopback.js --source=FILE --target=NAME --port=N
 */
import './compile-cache';
import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import {LOOPBACK} from './ports';

function main(): void {
  const {values} = parseArgs({
    options: {
      source: {type: 'string'},
      target: {type: 'string'},
      port: {type: 'string'},
    },
    strict: true,
  });
  const {source, target, port} = values;
  if (source === undefined || target === undefined || port === undefined) {
    throw new Error('Usage: --source=FILE --target=NAME --port=N');
  }
  // The source registers its functions (functions.cloudEvent(...)) as it loads.
  require(resolve(source));
  // Throws "... was not registered. Did you forget to require ...?" otherwise.
  const server = getTestServer(target);
  server
    .listen(Number(port), LOOPBACK, () => {
      console.log('Serving function...');
      console.log(`Function: ${target}`);
      console.log(`URL: http://${LOOPBACK}:${port}/`);
    })
    // As the framework's CLI: a function may run as long as it needs.
    .setTimeout(0);
}

main();
