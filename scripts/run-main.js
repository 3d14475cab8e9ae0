/*
 * How each script under scripts/ runs its async main.
 *
 * Plain JavaScript: it runs before anything is compiled.
 */
'use strict';

/**
 * Runs `main` and exits with the code it resolves with; undefined leaves the
 * process to what main started (the stack, a deploy). What it throws is
 * printed, exit 1.
 */
function runMain(main) {
  main().then(
    code => {
      if (code !== undefined) process.exit(code);
    },
    err => {
      process.stderr.write(`${err.stack || err}\n`);
      process.exit(1);
    },
  );
}

module.exports = {runMain};
