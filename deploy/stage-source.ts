/**
 * The function source Cloud Functions receives: the compiled functions and
 * shared core (from deploy's own build, build-deploy/, as `build/functions`
 * and `build/shared`, where package.json's main points), a package.json with production dependencies only, and a
 * lock file pruned to match. The cloud build then only runs `npm ci`: the
 * empty `gcp-build` script stops buildpacks from running a TypeScript build.
 * Its `engines.node` is the deployed runtime's Node.js major (deploy/runtime.ts),
 * not the repository's, which says what the development tooling needs.
 */
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {FUNCTIONS_NODE_ENGINES} from './runtime';

/** Under the compiled tree deploy runs from. */
const STAGED_SOURCE = path.join('deploy', 'staged-source');
// cloudbuild holds the image build config that shared/image-build.ts renders.
const COMPILED_DIRS = ['functions', 'shared', 'cloudbuild'];
/** Where the staged source keeps the compiled folders: package.json's main is build/functions/index.js. */
const STAGED_BUILD = 'build';
const ENTRY = path.join('functions', 'index.js');

/** The staged source's folder, relative to the repository root (what gcloud uploads). */
export function stagedSourceDir(root: string, compiled: string): string {
  return path.relative(root, path.join(compiled, STAGED_SOURCE));
}

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

/**
 * Stages the function source from `compiled`, the tree tsc wrote (build-deploy/
 * under npm run deploy), into its deploy/staged-source.
 */
export function stageSource(root: string, compiled: string): StagedSource {
  const entry = path.join(compiled, ENTRY);
  if (!fs.existsSync(entry)) {
    throw new StageError(
      `${path.relative(root, entry)} is missing: npm run deploy builds it (into build-deploy/) first.`,
    );
  }
  const dir = stagedSourceDir(root, compiled);
  const out = path.join(root, dir);
  fs.rmSync(out, {recursive: true, force: true});
  fs.mkdirSync(out, {recursive: true});
  for (const rel of COMPILED_DIRS) {
    const from = path.join(compiled, rel);
    if (fs.existsSync(from)) {
      fs.cpSync(from, path.join(out, STAGED_BUILD, rel), {
        recursive: true,
        filter: src => !src.endsWith('.d.ts') && !src.endsWith('.tsbuildinfo'),
      });
    }
  }
  const catalog = path.join(root, 'shared/image-catalog.json');
  const stagedCatalog = path.join(
    out,
    STAGED_BUILD,
    'shared',
    'image-catalog.json',
  );
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
    dir,
    hash: hashDirectory(out),
    files: listFiles(out).length,
  };
}
