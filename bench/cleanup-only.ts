// scratch: not committed
import {startLocalStack} from '../local/stack';
import {StackDriver} from './stack-driver';
import {measureCleanupAtScale} from './cleanup-at-scale';
async function main() {
  const stack = await startLocalStack({buildSeconds: 0.2, logLevel: 'warn'});
  Object.assign(process.env, stack.env);
  const driver = new StackDriver(stack);
  try {
    const r = await measureCleanupAtScale(driver, {});
    console.log(JSON.stringify(r, null, 1));
  } finally {
    await driver.close();
    await stack.stop();
  }
}
void main();
