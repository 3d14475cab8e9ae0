import * as assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {functionEnvironment} from '../../deploy/function-steps';
import {buildPlan} from '../../deploy/plan';
import {
  triggerIncludedFiles,
  triggerSubstitutions,
} from '../../deploy/trigger-steps';
import {contextDigest} from '../../shared/context-digest';
import {loadConfig} from '../../shared/config';
import {DockerfileChanged} from '../../shared/messages';
import {
  ROOT,
  catalogImages,
  fakeEnv,
  loadYaml,
  newFakeProject,
  sampleInputs,
  sampleOptions,
} from './helpers';

const CLOUDBUILD = path.join(ROOT, 'cloudbuild');
const TRIGGER_CONFIG = path.join(CLOUDBUILD, 'dockerfile-changed.yaml');
/** Cloud Build's built-in substitutions that the trigger config may use. */
const BUILT_INS = new Set([
  'PROJECT_ID',
  'BUILD_ID',
  'PROJECT_NUMBER',
  'LOCATION',
  'COMMIT_SHA',
  'SHORT_SHA',
  'REVISION_ID',
  'BRANCH_NAME',
  'TAG_NAME',
  'REPO_NAME',
  'TRIGGER_NAME',
]);

interface BuildStep {
  id: string;
  name: string;
  entrypoint: string;
  args: string[];
}
interface BuildConfig {
  substitutions: Record<string, string>;
  steps: BuildStep[];
}

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap(e => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      return yamlFiles(full);
    }
    return /\.ya?ml$/.test(e.name) ? [full] : [];
  });
}

function triggerConfig(): BuildConfig {
  return loadYaml(fs.readFileSync(TRIGGER_CONFIG, 'utf8')) as BuildConfig;
}

/** Substitutions a step uses, with Cloud Build's `$$` escape taken out. */
function substitutionsUsed(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text
    .replace(/\$\$/g, '')
    .matchAll(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g)) {
    names.add(m[1]);
  }
  return names;
}

/** What Cloud Build does to a step's args before running them. */
function applySubstitutions(
  text: string,
  values: Record<string, string>,
): string {
  return text
    .split('$$')
    .map(piece =>
      piece.replace(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (_whole, name: string) => {
        if (!(name in values)) {
          throw new Error(`no value for substitution ${name}`);
        }
        return values[name];
      }),
    )
    .join('$');
}

function stepScript(id: string): string {
  const step = triggerConfig().steps.find(s => s.id === id);
  assert.ok(step, `step ${id}`);
  assert.equal(step.entrypoint, 'bash');
  assert.equal(step.args[0], '-c');
  return step.args[1];
}

/** A checkout with the catalog's Dockerfiles (all but the last) and a file in each context. */
function makeCheckout(): {dir: string; present: string[]} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-checkout-'));
  const images = catalogImages();
  const present = images.slice(0, -1);
  for (const [i, image] of present.entries()) {
    fs.mkdirSync(path.join(dir, image.context), {recursive: true});
    fs.writeFileSync(
      path.join(dir, image.dockerfile),
      `FROM debian:12\nRUN echo ${image.name} ${i}\n# ünïcode and no trailing newline`,
    );
    fs.writeFileSync(
      path.join(dir, image.context, 'requirements.txt'),
      `torch==2.${i}\n`,
    );
  }
  return {dir, present: present.map(i => i.name)};
}

function values(): Record<string, string> {
  const o = sampleOptions();
  return {
    ...triggerSubstitutions(o, sampleInputs()),
    PROJECT_ID: o.project,
    SHORT_SHA: 'abc1234',
  };
}

function runStep(
  id: string,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
) {
  const script = applySubstitutions(stepScript(id), values());
  return spawnSync('bash', ['-c', script], {cwd, env, encoding: 'utf8'});
}

describe('Cloud Build configs', () => {
  it('every YAML under cloudbuild/ parses', () => {
    const files = yamlFiles(CLOUDBUILD);
    assert.ok(files.length >= 1);
    for (const file of files) {
      const doc = loadYaml(fs.readFileSync(file, 'utf8'));
      assert.ok(
        doc !== null && typeof doc === 'object',
        `${path.relative(ROOT, file)} is a mapping`,
      );
      assert.ok(
        Array.isArray((doc as {steps?: unknown}).steps),
        `${path.relative(ROOT, file)} has steps`,
      );
    }
  });

  it("runs every trigger step on Google's current google-cloud-cli image at :stable, not cloud-sdk or :slim", () => {
    const images = triggerConfig().steps.map(s => s.name);
    assert.ok(images.length >= 2);
    for (const image of images) {
      assert.equal(
        image,
        'gcr.io/google.com/cloudsdktool/google-cloud-cli:stable',
      );
    }
  });

  it('the Dockerfile trigger config declares exactly the substitutions it uses and deploy sets', () => {
    const config = triggerConfig();
    const used = new Set<string>();
    for (const step of config.steps) {
      for (const arg of step.args) {
        for (const name of substitutionsUsed(arg)) {
          used.add(name);
        }
      }
    }
    const custom = [...used].filter(n => n.startsWith('_')).sort();
    const builtIn = [...used].filter(n => !n.startsWith('_'));
    for (const name of builtIn) {
      assert.ok(
        BUILT_INS.has(name),
        `${name} is a Cloud Build built-in substitution (bash variables need $$)`,
      );
    }
    assert.deepEqual(Object.keys(config.substitutions).sort(), custom);
    const o = sampleOptions();
    assert.deepEqual(
      Object.keys(triggerSubstitutions(o, sampleInputs())).sort(),
      custom,
    );
  });

  it('the trigger publishes where the dockerfile-changed function listens, with the config the functions accept', () => {
    const o = sampleOptions([
      '--dockerfile-changed-topic',
      'arr-dockerfile-events',
    ]);
    const env = functionEnvironment(o);
    assert.equal(
      triggerSubstitutions(o, sampleInputs())._DOCKERFILE_CHANGED_TOPIC,
      env.DOCKERFILE_CHANGED_TOPIC,
    );
    const config = loadConfig(env);
    assert.equal(config.dockerfileChangedTopic, 'arr-dockerfile-events');
    assert.equal(
      triggerConfig().substitutions._DOCKERFILE_CHANGED_TOPIC,
      sampleOptions().dockerfileChangedTopic,
    );
    const create = buildPlan(o, sampleInputs())
      .flatMap(s => (s.kind === 'ensure' ? s.create : []))
      .find(c => c.slice(1, 4).join(' ') === 'builds triggers create');
    assert.ok(create);
    const subs = create.find(a => a.startsWith('--substitutions='));
    assert.equal(
      subs,
      `--substitutions=${Object.entries(triggerSubstitutions(o, sampleInputs()))
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    );
    assert.ok(
      !Object.values(triggerSubstitutions(o, sampleInputs())).some(v =>
        v.includes(','),
      ),
      'no value holds the list separator',
    );
    assert.ok(
      create.includes('--inline-config=cloudbuild/dockerfile-changed.yaml'),
    );
    // A context-keyed image's key covers its whole folder: any file there runs the trigger.
    assert.deepEqual(
      triggerIncludedFiles(catalogImages()),
      catalogImages().map(i =>
        i.keyCovers === 'context' ? `${i.context}/**` : i.dockerfile,
      ),
    );
    assert.ok(catalogImages().some(i => i.keyCovers === 'context'));
    assert.ok(
      create.includes(
        `--included-files=${triggerIncludedFiles(catalogImages()).join(',')}`,
      ),
    );
  });

  it('the hash step prints what `sha256sum Dockerfile | cut -c1-12` prints (and the context digest where the catalog asks), and skips absent Dockerfiles', () => {
    const {dir, present} = makeCheckout();
    const run = runStep('hash', dir);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.deepEqual(
      lines.map(l => l.split(' ')[0]),
      present,
    );
    for (const line of lines) {
      const [name, hash, ...rest] = line.split(' ');
      const image = catalogImages().find(i => i.name === name);
      assert.ok(image);
      assert.deepEqual(
        rest,
        image.keyCovers === 'context'
          ? ['context', contextDigest(path.join(dir, image.context))]
          : [],
      );
      const file = path.join(dir, image.dockerfile);
      const sha256sum = spawnSync(
        'bash',
        ['-c', `sha256sum "${file}" | cut -c1-12`],
        {encoding: 'utf8'},
      ).stdout.trim();
      assert.equal(hash, sha256sum);
      assert.equal(
        hash,
        createHash('sha256')
          .update(fs.readFileSync(file))
          .digest('hex')
          .slice(0, 12),
      );
    }
    assert.match(
      run.stderr,
      /arr-vertex-launcher: .* is not in this checkout; skipped/,
    );
  });

  it('the publish step uploads each context by hash and publishes messages the function accepts', () => {
    const {dir, present} = makeCheckout();
    assert.equal(runStep('hash', dir).status, 0);
    const fake = newFakeProject();
    fs.writeFileSync(
      fake.statePath,
      JSON.stringify({
        resources: {
          'topic/dockerfile-changed': {
            name: 'projects/arr-sample-project/topics/dockerfile-changed',
          },
        },
      }),
    );
    const run = runStep('publish', dir, fakeEnv(fake));
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const state = JSON.parse(fs.readFileSync(fake.statePath, 'utf8')) as {
      objects: string[];
      published: Array<{topic: string; message: string}>;
    };
    const hashes = new Map(
      fs
        .readFileSync(path.join(dir, 'dockerfile-hashes.txt'), 'utf8')
        .trim()
        .split('\n')
        .map(l => {
          const [image, hash, , digest] = l.split(' ');
          return [image, {hash, digest}] as const;
        }),
    );
    assert.deepEqual(
      state.published.map(p => p.topic),
      present.map(() => 'dockerfile-changed'),
    );
    for (const [i, p] of state.published.entries()) {
      const message = DockerfileChanged.parse(JSON.parse(p.message));
      const {hash, digest} = hashes.get(present[i])!;
      const image = catalogImages().find(c => c.name === present[i])!;
      const context = image.keyCovers === 'context';
      assert.equal(
        digest,
        context ? contextDigest(path.join(dir, image.context)) : '-',
      );
      // A context-keyed image's context is named by both: a new requirements.txt under
      // an unchanged Dockerfile is a new object, never the old one kept by --no-clobber.
      const object = `gs://arr-sample-project-arr-build-contexts/contexts/${present[i]}/${context ? `${hash}-${digest}` : hash}.tar.gz`;
      assert.deepEqual(message, {
        image: present[i],
        dockerfileHash: hash,
        ...(context ? {contextDigest: digest} : {}),
        source: object,
        requestedBy: 'cloud-build-trigger abc1234',
      });
      assert.ok(state.objects.includes(object));
    }
    const calls = fs.readFileSync(fake.callsPath, 'utf8');
    assert.match(calls, /"storage","cp","--no-clobber"/);
  });
});
