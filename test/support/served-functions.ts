/**
 * The four functions served from the build by functions-framework, with the Pub/Sub
 * emulator pushing to them as Eventarc would, over one control plane: for end-to-end
 * suites that publish messages and read the runs they leave.
 */
import {resolve} from 'node:path';
import {PubSub} from '@google-cloud/pubsub';
import {serveFunctions, ServedFunctions} from '../../local/function-host';
import {DEFAULT_TOPICS, routesFor} from '../../shared/function-specs';
import {harness} from '../harness/harness';
import {TestControlPlane, testControlPlane} from './control-plane';

const SOURCE = resolve(__dirname, '../../functions/index.js');

export interface ServedControlPlane {
  plane: TestControlPlane;
  pubsub: PubSub;
  served: ServedFunctions;
}

/** Hooks for the calling suite: serve once before its tests (handed to `use`), stop after them. */
export function serveFunctionsForSuite(
  use: (stack: ServedControlPlane) => void,
): void {
  let stack: Partial<ServedControlPlane> = {};
  before(async function () {
    this.timeout(60_000);
    const plane = await testControlPlane();
    stack.plane = plane;
    // The universe domain keeps google-gax from looking for Google credentials first.
    const pubsub = new PubSub({
      projectId: harness.projectId,
      clientOptions: {universeDomain: 'googleapis.com'},
    });
    stack.pubsub = pubsub;
    const served = await serveFunctions({
      source: SOURCE,
      routes: routesFor(DEFAULT_TOPICS),
      pubsub,
      projectId: harness.projectId,
      env: {...plane.env, LOG_LEVEL: 'warn'},
    });
    use({plane, pubsub, served});
    stack.served = served;
  });
  after(async () => {
    await stack.served?.stop();
    await stack.pubsub?.close();
    await stack.plane?.close();
    stack = {};
  });
}
