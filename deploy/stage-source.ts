/**
 * The function source Cloud Functions receives: the compiled `build/functions`
 * and `build/shared`, a package.json with production dependencies only, and a
 * lock file pruned to match. The cloud build then only runs `npm ci`: the
 * empty `gcp-build` script stops buildpacks from running a TypeScript build.
 * Its `engines.node` is the deployed runtime's Node.js major (deploy/runtime.ts),
 * not the repository's, which says what the development tooling needs.
 */
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {FUNCTIONS_NODE_ENGINES} from './runtime';

export const STAGED_SOURCE_DIR = 'build/deploy/staged-source';
// build/cloudbuild holds the image build config that shared/image-build.ts renders.
const COMPILED_DIRS = ['build/functions', 'build/shared', 'build/cloudbuild'];
const ENTRY = 'build/functions/index.js';

export interface StagedSource {
  /** Relative to the repository root. */
  dir: string;
  /** 12 hex over every staged file's path and bytes. */
  hash: string;
  files: number;
}

export class StageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageError';
  }
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface LockFile {
  packages?: Record<
    string,
    {dev?: boolean; devDependencies?: unknown} & Record<string, unknown>
  >;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export function productionPackageJson(
  pkg: PackageJson,
): Record<string, unknown> {
  return {
    name: pkg.name,
    version: pkg.version,
    private: true,
    main: pkg.main,
    engines: {node: FUNCTIONS_NODE_ENGINES},
    scripts: {'gcp-build': ''},
    dependencies: pkg.dependencies ?? {},
  };
}

/** Drops devDependencies and dev-only packages so `npm ci` accepts the production package.json; the root states its engines. */
export function productionLockFile(lock: LockFile): LockFile {
  const packages: NonNullable<LockFile['packages']> = {};
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (entry.dev === true) {
      continue;
    }
    if (key === '') {
      const root = {...entry};
      delete root.devDependencies;
      root.engines = {node: FUNCTIONS_NODE_ENGINES};
      packages[key] = root;
    } else {
      packages[key] = entry;
    }
  }
  return {...lock, packages};
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...listFiles(full));
    } else if (entry.isFile()) {
      out.push(full);
    }
  }
  return out;
}

export function hashDirectory(dir: string): string {
  const hash = createHash('sha256');
  for (const file of listFiles(dir).sort()) {
    hash.update(path.relative(dir, file).split(path.sep).join('/'));
    hash.update('\0');
    hash.update(fs.readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

export function stageSource(root: string): StagedSource {
  if (!fs.existsSync(path.join(root, ENTRY))) {
    throw new StageError(
      `${ENTRY} is missing: run \`npm run build\` first (npm run deploy does).`,
    );
  }
  const out = path.join(root, STAGED_SOURCE_DIR);
  fs.rmSync(out, {recursive: true, force: true});
  fs.mkdirSync(out, {recursive: true});
  for (const rel of COMPILED_DIRS) {
    const from = path.join(root, rel);
    if (fs.existsSync(from)) {
      fs.cpSync(from, path.join(out, rel), {
        recursive: true,
        filter: src => !src.endsWith('.d.ts') && !src.endsWith('.tsbuildinfo'),
      });
    }
  }
  const catalog = path.join(root, 'shared/image-catalog.json');
  const stagedCatalog = path.join(out, 'build/shared/image-catalog.json');
  if (fs.existsSync(catalog) && !fs.existsSync(stagedCatalog)) {
    fs.mkdirSync(path.dirname(stagedCatalog), {recursive: true});
    fs.copyFileSync(catalog, stagedCatalog);
  }
  const pkg = readJson<PackageJson>(path.join(root, 'package.json'));
  fs.writeFileSync(
    path.join(out, 'package.json'),
    JSON.stringify(productionPackageJson(pkg), null, 2) + '\n',
  );
  const lockPath = path.join(root, 'package-lock.json');
  if (fs.existsSync(lockPath)) {
    const lock = productionLockFile(readJson<LockFile>(lockPath));
    fs.writeFileSync(
      path.join(out, 'package-lock.json'),
      JSON.stringify(lock, null, 2) + '\n',
    );
  }
  fs.writeFileSync(
    path.join(out, '.gcloudignore'),
    '.gcloudignore\nnode_modules/\n',
  );
  return {
    dir: STAGED_SOURCE_DIR,
    hash: hashDirectory(out),
    files: listFiles(out).length,
  };
}
