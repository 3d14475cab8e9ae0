import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {buildPlan} from '../../deploy/plan';
import {
  checkDeployableRuntime,
  FUNCTIONS_RUNTIME,
  NODE_RUNTIME_SCHEDULE,
  recommendedRuntime,
  RUNTIME_SCHEDULE_URL,
  RuntimeError,
  runtimePhase,
} from '../../deploy/runtime';
import {
  ROOT,
  SAMPLE_ARGS,
  newFakeProject,
  runCli,
  sampleInputs,
  sampleOptions,
} from './helpers';

const day = (d: string) => new Date(`${d}T00:00:00Z`);

function readme(): string {
  return fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
}

/** The text of a README section: from its heading to the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README has a "${heading}" heading`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex(
    (line, i) => i > start && /^#+ /.test(line) && line.indexOf(' ') <= level,
  );
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

function scheduleRow(r: (typeof NODE_RUNTIME_SCHEDULE)[number]): string {
  return `| \`${r.id}\` | ${r.nodeMajor} | ${r.deprecation} | ${r.decommission} |`;
}

function functionDeploys(now: Date, runtime?: string): string[][] {
  return buildPlan(sampleOptions(), {...sampleInputs(), now, runtime})
    .flatMap(s => (s.kind === 'ensure' ? s.create : []))
    .filter(c => c[1] === 'functions' && c[2] === 'deploy')
    .map(c => [...c]);
}

describe('functions runtime', () => {
  it('has a schedule of real dates, newest runtime first, each deprecated before it is decommissioned', () => {
    let previous: (typeof NODE_RUNTIME_SCHEDULE)[number] | undefined;
    for (const r of NODE_RUNTIME_SCHEDULE) {
      assert.equal(r.id, `nodejs${r.nodeMajor}`);
      for (const d of [r.deprecation, r.decommission]) {
        assert.match(d, /^\d{4}-\d{2}-\d{2}$/);
        assert.equal(day(d).toISOString().slice(0, 10), d);
      }
      assert.ok(r.deprecation < r.decommission, r.id);
      if (previous !== undefined) {
        assert.ok(previous.nodeMajor > r.nodeMajor);
        assert.ok(previous.decommission > r.decommission);
      }
      previous = r;
    }
  });

  it('deploys the GA runtime supported longest: nodejs24 as of 2026-12-01, when nodejs20 is decommissioned', () => {
    const today = day('2026-12-01');
    assert.equal(FUNCTIONS_RUNTIME.id, 'nodejs24');
    assert.equal(recommendedRuntime(today)?.id, FUNCTIONS_RUNTIME.id);
    assert.equal(runtimePhase(FUNCTIONS_RUNTIME, today), 'supported');
    assert.equal(
      runtimePhase(
        NODE_RUNTIME_SCHEDULE.find(r => r.id === 'nodejs20')!,
        today,
      ),
      'decommissioned',
    );
    for (const c of functionDeploys(today)) {
      assert.ok(c.includes('--runtime=nodejs24'), c.join(' '));
    }
  });

  it('is still deployable on the real date of this run (it fails on the decommission day: move to a newer runtime then)', () => {
    const warning = checkDeployableRuntime(FUNCTIONS_RUNTIME.id, new Date());
    if (warning !== undefined) {
      // Deprecated: still deploys, but the move is due.
      process.stdout.write(`      ${warning}\n`);
    }
  });

  it('refuses a decommissioned runtime before building any step, and names the one to use', () => {
    assert.throws(
      () => functionDeploys(day('2026-12-01'), 'nodejs20'),
      (err: unknown) => {
        assert.ok(err instanceof RuntimeError);
        assert.match(
          err.message,
          /Runtime nodejs20 \(Node\.js 20\) was decommissioned on 2026-10-30/,
        );
        assert.match(err.message, /this deploy would be refused/);
        assert.match(
          err.message,
          /Use nodejs24 \(Node\.js 24, deprecated from 2028-04-30, decommissioned 2028-10-31\)/,
        );
        return true;
      },
    );
    // The decommission date itself is decommissioned; the day before is not.
    assert.throws(
      () => functionDeploys(day('2026-10-30'), 'nodejs20'),
      RuntimeError,
    );
    assert.equal(
      functionDeploys(new Date('2026-10-29T23:59:59Z'), 'nodejs20').length,
      4,
    );
    assert.throws(
      () => functionDeploys(day('2026-12-01'), 'nodejs16'),
      /Unknown runtime nodejs16/,
    );
  });

  it('refuses the current runtime too, once it is decommissioned, and says to look for a newer one', () => {
    assert.throws(
      () => functionDeploys(day(FUNCTIONS_RUNTIME.decommission)),
      (err: unknown) => {
        assert.ok(err instanceof RuntimeError);
        assert.match(err.message, /was decommissioned on/);
        assert.ok(err.message.includes(RUNTIME_SCHEDULE_URL));
        return true;
      },
    );
  });

  it('warns while a runtime is deprecated, and deploys', () => {
    assert.equal(
      checkDeployableRuntime('nodejs24', day('2028-04-29')),
      undefined,
    );
    const warning = checkDeployableRuntime('nodejs22', day('2027-05-01'));
    assert.match(
      warning ?? '',
      /Runtime nodejs22 is deprecated since 2027-04-30 .* decommissioned on 2027-10-31.*Use nodejs24/,
    );
    assert.equal(functionDeploys(day('2027-05-01'), 'nodejs22').length, 4);
  });

  it('deploy CLI: a decommissioned runtime stops it with exit code 2 before any gcloud command', async () => {
    const fake = newFakeProject();
    const run = await runCli(fake, SAMPLE_ARGS, undefined, {
      ARR_DEPLOY_NOW: `${FUNCTIONS_RUNTIME.decommission}T08:00:00Z`,
    });
    assert.equal(run.status, 2, run.stdout + run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`✗ Runtime ${FUNCTIONS_RUNTIME.id} .*was decommissioned`),
    );
    assert.deepEqual(run.calls, []);
    assert.ok(!run.stdout.includes('Staged function source'), run.stdout);
  });

  it('deploy CLI: a deprecated runtime is a warning in the output, and the deploy goes on', async () => {
    const fake = newFakeProject();
    const run = await runCli(fake, [...SAMPLE_ARGS, '--dry-run'], undefined, {
      ARR_DEPLOY_NOW: `${FUNCTIONS_RUNTIME.deprecation}T08:00:00Z`,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`! Runtime ${FUNCTIONS_RUNTIME.id} is deprecated since`),
    );
    assert.match(run.stdout, /--runtime=nodejs24/);
  });

  it('package.json runs the tooling on the same Node.js major, with types of that major', () => {
    const pkg = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'),
    ) as {devDependencies: Record<string, string>};
    const major = (range: string | undefined) =>
      Number(/\d+/.exec(range ?? '')?.[0]);
    assert.equal(major(pkg.devDependencies.node), FUNCTIONS_RUNTIME.nodeMajor);
    assert.equal(
      major(pkg.devDependencies['@types/node']),
      FUNCTIONS_RUNTIME.nodeMajor,
    );
  });

  it('the docs say the same: README (Prerequisites, The runtime, What it creates) and deploy/README-deploy.md', () => {
    const text = readme();
    const {id, nodeMajor} = FUNCTIONS_RUNTIME;
    const prerequisites = section(text, '## Prerequisites');
    assert.ok(prerequisites.includes(`Node.js ${nodeMajor}`), prerequisites);
    assert.ok(prerequisites.includes(`\`${id}\``), prerequisites);

    const runtime = section(text, '### The runtime');
    assert.ok(
      runtime.includes(
        `The functions run on **\`${id}\`** (Node.js ${nodeMajor})`,
      ),
      runtime,
    );
    assert.ok(runtime.includes(RUNTIME_SCHEDULE_URL));
    assert.ok(runtime.includes(`\`"node": "${nodeMajor}.x"\``), runtime);
    const rows = runtime.split('\n').filter(l => /^\| `nodejs\d+` \|/.test(l));
    assert.deepEqual(rows, NODE_RUNTIME_SCHEDULE.map(scheduleRow));

    assert.match(
      section(text, '### What it creates'),
      new RegExp(`The four functions \\(2nd gen, \`${id}\``),
    );
    // Outside the schedule table, no other runtime is named.
    const elsewhere = text.replace(runtime, '');
    for (const m of elsewhere.matchAll(/nodejs\d+/g)) {
      assert.equal(m[0], id, `README names ${m[0]} outside "The runtime"`);
    }
    const deployDocs = fs.readFileSync(
      path.join(ROOT, 'deploy', 'README-deploy.md'),
      'utf8',
    );
    assert.ok(deployDocs.includes(`\`${id}\` (Node.js ${nodeMajor})`));
    for (const m of deployDocs.matchAll(/nodejs\d+/g)) {
      assert.equal(m[0], id);
    }
  });
});
