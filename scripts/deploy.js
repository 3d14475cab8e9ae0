#!/usr/bin/env node
/*
 * `npm run deploy`: answer what needs no build, build deploy's own copy, then
 * deploy.
 *
 * - `--help` and options deploy refuses are answered before anything is
 *   built, from deploy/options.ts's source (scripts/from-source.js): the same
 *   option list and checks the built deploy uses, in about a second.
 * - The build goes to build-deploy/ (tsconfig.deploy.json), never build/: a
 *   local stack running from build/, and arr, must not have their files
 *   rewritten under them by a deploy. Deploy stages the functions from its
 *   own build (deploy/stage-source.ts).
 *
 * Plain JavaScript: it runs before anything is compiled.
 */
'use strict';

const path = require('node:path');
const {buildForDeploy, buildStoppably, DEPLOY_BUILD} = require('./build');
const {requireFromSource} = require('./from-source');
const {runMain} = require('./run-main');

const argv = process.argv.slice(2);

async function main() {
  const {answerFromArguments} = requireFromSource('deploy/options.ts');
  const answered = answerFromArguments(argv, {
    stdout: text => process.stdout.write(text),
    stderr: text => process.stderr.write(text),
  });
  if ('exit' in answered) return answered.exit;
  const code = await buildStoppably(buildForDeploy);
  if (code !== 0) {
    if (code !== 130) {
      process.stderr.write('The build failed; nothing was deployed.\n');
    }
    return code;
  }
  // deploy-cli.js runs deploy and sets process.exitCode.
  require(path.join(DEPLOY_BUILD, 'deploy', 'deploy-cli.js'));
  return undefined;
}

runMain(main);
