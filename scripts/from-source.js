/*
 * Loads a TypeScript module of this repository straight from its source, with
 * no build: each file is transpiled in memory (TypeScript's transpileModule:
 * no type check, nothing written), its imports of the repository's own files
 * likewise, its packages from node_modules as usual.
 *
 * For what the scripts answer before anything is built (`--help`, options they
 * refuse): the answer comes from the same module the build compiles, so no
 * option list is written twice, and it takes about a second on a fresh clone
 * instead of a whole tsc build. Keep such modules light: every file they
 * import is transpiled on the way.
 *
 * Plain JavaScript: it runs before anything is compiled.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const NODE_MODULES = path.join(ROOT, 'node_modules') + path.sep;

let compilerOptions;

/** tsconfig.json's compiler options, without listing the files it includes. */
function readCompilerOptions(ts) {
  const file = path.join(ROOT, 'tsconfig.json');
  const {config, error} = ts.readConfigFile(file, ts.sys.readFile);
  if (error)
    throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const host = {...ts.sys, readDirectory: () => []};
  const parsed = ts.parseJsonConfigFileContent(config, host, ROOT);
  return {
    ...parsed.options,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
  };
}

function registerTypeScript() {
  if (compilerOptions !== undefined) return;
  const ts = require(require.resolve('typescript', {paths: [ROOT]}));
  compilerOptions = readCompilerOptions(ts);
  require.extensions['.ts'] = (module, filename) => {
    if (filename.startsWith(NODE_MODULES)) {
      throw new Error(
        `from-source loads this repository's TypeScript only, not ${filename}`,
      );
    }
    const source = fs.readFileSync(filename, 'utf8');
    const {outputText} = ts.transpileModule(source, {
      compilerOptions,
      fileName: filename,
    });
    module._compile(outputText, filename);
  };
}

/** The module at `relative` (e.g. 'deploy/options.ts'), from source. */
function requireFromSource(relative) {
  registerTypeScript();
  return require(path.join(ROOT, relative));
}

module.exports = {requireFromSource};
