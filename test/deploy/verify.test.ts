/**
 * deploy --verify, in process through the Exec seam: the claims derived from the grants,
 * the reading of Policy Troubleshooter answers (policytroubleshooter v3
 * TroubleshootIamPolicyResponse, as `gcloud policy-intelligence troubleshoot-policy iam
 * --format=json` prints it), fail-closed on UNKNOWN, every claim failing once, and the
 * live smoke. The CLI against the fake gcloud is in deploy-cli.test.ts.
 */
import * as assert from 'node:assert/strict';
import type {Exec} from '../../deploy/gcloud-runner';
import {
  FUNCTION_IMAGES_REPOSITORY,
  customRoleName,
  grantsBeforeFunctions,
  identities,
  TEARDOWN_ROLE_ID,
} from '../../deploy/iam';
import {DeployOptionsError, parseDeployArgs} from '../../deploy/options';
import {ProbeResult} from '../../deploy/steps';
import {
  Claim,
  DELETE_REPOSITORY,
  DELETE_VERSIONS,
  IMAGE_REMOVAL_PERMISSIONS,
  PUBLISH,
  UPDATE_REPOSITORY,
  UPLOAD_ARTIFACTS,
  deriveClaims,
  readAnswer,
  verifyProject,
} from '../../deploy/verify';
import {SAMPLE_ARGS, sampleOptions} from './helpers';

const PROJECT_NUMBER = '123456789012';
const o = sampleOptions();
const id = identities(o);
const withNumber = (email: string) =>
  email.replace('${PROJECT_NUMBER}', PROJECT_NUMBER);

const find = (
  claims: readonly Claim[],
  principal: string,
  permission: string,
  resource: string,
) =>
  claims.find(
    c =>
      c.principal === principal &&
      c.permission === permission &&
      (c.resource.kind === 'repository'
        ? c.resource.id
        : `topic/${c.resource.topic}`) === resource,
  );

// ---- answers shaped like the real ones ----

const TEARDOWN_CONDITION = {
  expression: `resource.matchTag('${o.project}/arr-lifecycle', 'ephemeral')`,
  title: 'only-arr-lifecycle-ephemeral',
};

function binding(
  role: string,
  state: 'GRANTED' | 'NOT_GRANTED' | 'UNKNOWN_CONDITIONAL',
  condition?: {value?: boolean},
) {
  return {
    allowAccessState: `ALLOW_ACCESS_STATE_${state}`,
    role,
    rolePermission: 'ROLE_PERMISSION_INCLUDED',
    rolePermissionRelevance: 'HEURISTIC_RELEVANCE_HIGH',
    combinedMembership: {
      membership: 'MEMBERSHIP_MATCHED',
      relevance: 'HEURISTIC_RELEVANCE_HIGH',
    },
    relevance: 'HEURISTIC_RELEVANCE_HIGH',
    ...(condition === undefined
      ? {}
      : {
          condition: TEARDOWN_CONDITION,
          conditionExplanation:
            condition.value === undefined
              ? {errors: [{code: 3, message: 'tags could not be read'}]}
              : {
                  value: condition.value,
                  evaluationStates: [
                    {start: 0, end: 60, value: condition.value},
                  ],
                },
        }),
  };
}

function response(
  overall: string,
  bindings: object[],
  resource = `//cloudresourcemanager.googleapis.com/projects/${o.project}`,
  denied = false,
) {
  return JSON.stringify({
    overallAccessState: overall,
    accessTuple: {
      principal: 'x@example.com',
      fullResourceName: resource,
      permission: DELETE_REPOSITORY,
      permissionFqdn: 'artifactregistry.googleapis.com/repositories.delete',
      conditionContext: {},
    },
    allowPolicyExplanation: {
      allowAccessState:
        overall === 'CAN_ACCESS'
          ? 'ALLOW_ACCESS_STATE_GRANTED'
          : 'ALLOW_ACCESS_STATE_NOT_GRANTED',
      explainedPolicies: [
        {
          allowAccessState: 'ALLOW_ACCESS_STATE_NOT_GRANTED',
          fullResourceName: resource,
          bindingExplanations: bindings,
          relevance: 'HEURISTIC_RELEVANCE_HIGH',
        },
      ],
      relevance: 'HEURISTIC_RELEVANCE_HIGH',
    },
    denyPolicyExplanation: {
      denyAccessState: denied
        ? 'DENY_ACCESS_STATE_DENIED'
        : 'DENY_ACCESS_STATE_NOT_DENIED',
      explainedResources: [],
      relevance: 'HEURISTIC_RELEVANCE_NORMAL',
      permissionDeniable: true,
    },
  });
}

const teardownRole = customRoleName(o.project, TEARDOWN_ROLE_ID);

/** The answer a correct project gives for a claim, or its opposite. */
function answerFor(claim: Claim, flip: boolean): string {
  const granted = (claim.expected === 'granted') !== flip;
  if (!granted) return response('CANNOT_ACCESS', []);
  return response('CAN_ACCESS', [
    binding(claim.grant?.role ?? 'roles/owner', 'GRANTED'),
  ]);
}

interface FakeRun {
  exec: Exec;
  calls: string[][];
}

/** An in-process gcloud and arr: answers each claim with `answer`. */
function fakeExec(
  answer: (argv: readonly string[]) => ProbeResult,
  repositories: readonly string[] = [
    o.persistentRepository,
    o.ephemeralRepository,
    FUNCTION_IMAGES_REPOSITORY,
  ],
  failSmoke?: string,
  policies: Readonly<Record<string, object>> = {},
): FakeRun {
  const calls: string[][] = [];
  const ok = (stdout: string): ProbeResult => ({
    exitCode: 0,
    stdout,
    stderr: '',
  });
  const exec: Exec = async argv => {
    calls.push([...argv]);
    if (argv[0] === 'env') {
      const command = argv[argv.indexOf('/fake/arr.js') + 1];
      return command === failSmoke
        ? {exitCode: 1, stdout: '✗ Failed: injected\n', stderr: ''}
        : ok(`✓ Succeeded: ${command}\n`);
    }
    const text = argv.join(' ');
    if (text.startsWith('gcloud projects describe'))
      return ok(`${PROJECT_NUMBER}\n`);
    if (text.startsWith('gcloud artifacts repositories describe')) {
      return repositories.includes(argv[4])
        ? ok('{}')
        : {
            exitCode: 1,
            stdout: '',
            stderr: 'ERROR: NOT_FOUND: Repository not found',
          };
    }
    if (text.startsWith('gcloud policy-intelligence troubleshoot-policy iam')) {
      return answer(argv);
    }
    if (text.startsWith('gcloud projects get-iam-policy')) {
      return ok(JSON.stringify(policies.project ?? {bindings: []}));
    }
    if (text.startsWith('gcloud pubsub topics get-iam-policy')) {
      return ok(JSON.stringify(policies[argv[4]] ?? {bindings: []}));
    }
    throw new Error(`unexpected ${text}`);
  };
  return {exec, calls};
}

function claimOf(argv: readonly string[], claims: readonly Claim[]): Claim {
  const resource = argv[4];
  const principal = argv
    .find(a => a.startsWith('--principal-email='))
    ?.slice('--principal-email='.length);
  const permission = argv
    .find(a => a.startsWith('--permission='))
    ?.slice('--permission='.length);
  const claim = claims.find(
    c =>
      withNumber(c.principal) === principal &&
      c.permission === permission &&
      resource.endsWith(
        c.resource.kind === 'repository'
          ? `/repositories/${c.resource.id}`
          : `/topics/${c.resource.topic}`,
      ),
  );
  assert.ok(claim, `a claim for ${argv.join(' ')}`);
  return claim;
}

async function run(fake: FakeRun, smoke = true) {
  const lines: string[] = [];
  const report = await verifyProject(o, {
    exec: fake.exec,
    log: l => lines.push(l),
    arrCommand: ['node', '/fake/arr.js'],
    smoke,
    concurrency: 8,
  });
  return {report, text: lines.join('\n')};
}

describe('deploy --verify', () => {
  describe('claims, derived from the grants', () => {
    const claims = deriveClaims(o);
    const teardown = id.functions['teardown-requested'];

    it('teardown may delete the ephemeral repository only, through its conditioned grant', () => {
      const persistent = find(
        claims,
        teardown,
        DELETE_REPOSITORY,
        o.persistentRepository,
      );
      const ephemeral = find(
        claims,
        teardown,
        DELETE_REPOSITORY,
        o.ephemeralRepository,
      );
      assert.equal(persistent?.expected, 'denied');
      assert.equal(ephemeral?.expected, 'granted');
      assert.equal(ephemeral?.grant?.role, teardownRole);
      assert.ok(ephemeral?.grant?.condition);
    });

    it('no other identity deploy creates may delete either repository', () => {
      const others = [
        ...Object.values(id.functions).filter(e => e !== teardown),
        id.builder,
        id.trigger,
      ];
      for (const email of others) {
        for (const repo of [o.persistentRepository, o.ephemeralRepository]) {
          assert.equal(
            find(claims, email, DELETE_REPOSITORY, repo)?.expected,
            'denied',
            `${email} × ${repo}`,
          );
        }
      }
    });

    it('the image builder may push to both repositories, and nobody else; the function builder only to its own', () => {
      assert.equal(
        find(
          claims,
          id.functionBuilder,
          UPLOAD_ARTIFACTS,
          FUNCTION_IMAGES_REPOSITORY,
        )?.expected,
        'granted',
      );
      for (const repo of [o.persistentRepository, o.ephemeralRepository]) {
        assert.equal(
          find(claims, id.functionBuilder, UPLOAD_ARTIFACTS, repo)?.expected,
          'denied',
        );
      }
      for (const repo of [o.persistentRepository, o.ephemeralRepository]) {
        assert.equal(
          find(claims, id.builder, UPLOAD_ARTIFACTS, repo)?.expected,
          'granted',
        );
      }
      const pushers = claims.filter(
        c =>
          c.permission === UPLOAD_ARTIFACTS &&
          c.expected === 'granted' &&
          c.resource.kind === 'repository' &&
          c.resource.tier !== 'function images',
      );
      assert.deepEqual(
        new Set(pushers.map(c => c.principal)),
        new Set([id.builder]),
      );
    });

    it('publish: every grant on a topic is a granted claim, every other (function, topic) pair a denied one', () => {
      assert.equal(
        find(
          claims,
          id.schedulerAgent,
          PUBLISH,
          `topic/${o.teardownRequestedTopic}`,
        )?.expected,
        'granted',
      );
      assert.match(
        id.schedulerAgent,
        /^service-\$\{PROJECT_NUMBER\}@gcp-sa-cloudscheduler\.iam\.gserviceaccount\.com$/,
      );
      const topicGrants = grantsBeforeFunctions(o).filter(
        g =>
          g.resource.kind === 'topic' && g.member.startsWith('serviceAccount:'),
      );
      for (const g of topicGrants) {
        const topic = g.resource.kind === 'topic' ? g.resource.topic : '';
        const email = g.member.slice('serviceAccount:'.length);
        assert.equal(
          find(claims, email, PUBLISH, `topic/${topic}`)?.expected,
          'granted',
          g.why,
        );
      }
      const topics = [
        o.setupRequestedTopic,
        o.dockerfileChangedTopic,
        o.cloudBuildsTopic,
        o.teardownRequestedTopic,
        o.deadLetterTopic,
      ];
      for (const email of Object.values(id.functions)) {
        for (const topic of topics) {
          const granted = topicGrants.some(
            g =>
              g.member === `serviceAccount:${email}` &&
              g.resource.kind === 'topic' &&
              g.resource.topic === topic,
          );
          assert.equal(
            find(claims, email, PUBLISH, `topic/${topic}`)?.expected,
            granted ? 'granted' : 'denied',
            `${email} × ${topic}`,
          );
        }
      }
      assert.equal(
        find(
          claims,
          id.functions['teardown-requested'],
          PUBLISH,
          `topic/${o.teardownRequestedTopic}`,
        )?.expected,
        'denied',
      );
    });

    it('no identity deploy creates may remove the base image: versions, tags and repository updates are denied in the persistent repository', () => {
      const created = [
        ...Object.values(id.functions),
        id.builder,
        id.trigger,
        id.functionBuilder,
      ];
      for (const permission of IMAGE_REMOVAL_PERMISSIONS) {
        for (const email of created) {
          assert.equal(
            find(claims, email, permission, o.persistentRepository)?.expected,
            'denied',
            `${email} × ${permission}`,
          );
        }
      }
      // The conditioned rights still work where they are meant to.
      assert.equal(
        find(
          claims,
          id.functions['build-finished'],
          DELETE_VERSIONS,
          o.ephemeralRepository,
        )?.expected,
        'granted',
      );
      assert.equal(
        find(
          claims,
          id.functions['setup-requested'],
          UPDATE_REPOSITORY,
          o.ephemeralRepository,
        )?.expected,
        'granted',
      );
    });

    it('an existing build account (--build-service-account) gets granted claims only', () => {
      const own = sampleOptions([
        '--build-service-account',
        'builder@elsewhere.iam.gserviceaccount.com',
      ]);
      const mine = deriveClaims(own).filter(
        c => c.principal === 'builder@elsewhere.iam.gserviceaccount.com',
      );
      assert.ok(mine.length > 0);
      assert.ok(mine.every(c => c.expected === 'granted'));
    });
  });

  describe('reading Troubleshooter answers', () => {
    it('granted without a condition names the binding', () => {
      const a = readAnswer(
        response('CAN_ACCESS', [
          binding('roles/artifactregistry.writer', 'GRANTED'),
        ]),
      );
      assert.equal(a.state, 'granted');
      assert.equal(
        a.decidedBy,
        `roles/artifactregistry.writer on projects/${o.project}`,
      );
    });
    it('granted through a condition names the condition and its value', () => {
      const a = readAnswer(
        response('CAN_ACCESS', [
          binding(teardownRole, 'GRANTED', {value: true}),
        ]),
      );
      assert.equal(a.state, 'granted');
      assert.match(
        a.decidedBy,
        /arrEphemeralRepositoryDeleter on projects\/arr-sample-project if only-arr-lifecycle-ephemeral \(condition true\)/,
      );
    });
    it('denied by a false condition says which', () => {
      const a = readAnswer(
        response('CANNOT_ACCESS', [
          binding(teardownRole, 'NOT_GRANTED', {value: false}),
        ]),
      );
      assert.equal(a.state, 'denied');
      assert.match(
        a.decidedBy,
        /only-arr-lifecycle-ephemeral \(condition false\)/,
      );
    });
    it('denied with no binding, and denied by a deny policy', () => {
      assert.deepEqual(readAnswer(response('CANNOT_ACCESS', [])), {
        state: 'denied',
        raw: 'CANNOT_ACCESS',
        decidedBy: 'no binding grants it',
      });
      assert.equal(
        readAnswer(response('CANNOT_ACCESS', [], undefined, true)).decidedBy,
        'an IAM deny policy',
      );
    });
    it('UNKNOWN_CONDITIONAL, UNKNOWN_INFO, nothing and garbage are unknown', () => {
      const u = readAnswer(
        response('UNKNOWN_CONDITIONAL', [
          binding(teardownRole, 'UNKNOWN_CONDITIONAL', {}),
        ]),
      );
      assert.equal(u.state, 'unknown');
      assert.match(
        u.decidedBy,
        /undecided: .*condition not evaluated: tags could not be read/,
      );
      assert.equal(readAnswer(response('UNKNOWN_INFO', [])).state, 'unknown');
      assert.equal(readAnswer('{}').state, 'unknown');
      assert.equal(readAnswer('not json').state, 'unknown');
    });
  });

  describe('against a project (in-process gcloud)', function () {
    this.timeout(60_000);
    const claims = deriveClaims(o);

    it('a correct project: every claim holds, the smoke passes, in a table', async () => {
      const fake = fakeExec(argv => ({
        exitCode: 0,
        stdout: answerFor(claimOf(argv, claims), false),
        stderr: '',
      }));
      const {report, text} = await run(fake);
      assert.equal(report.ok, true, text);
      assert.equal(report.claims.length, claims.length);
      assert.match(
        text,
        /^ {3}principal +permission +resource +expected +answer +decided by$/m,
      );
      assert.match(
        text,
        /✓ +teardown-requested \(arr-teardown-requested@arr-sample-project\.iam\.gserviceaccount\.com\) +artifactregistry\.repositories\.delete +arr-coc-registry \(ephemeral\) +granted +granted +projects\/arr-sample-project\/roles\/arrEphemeralRepositoryDeleter/,
      );
      assert.match(
        text,
        /Cloud Scheduler agent \(service-123456789012@gcp-sa-cloudscheduler\.iam\.gserviceaccount\.com\) +pubsub\.topics\.publish +topic teardown-requested +granted +granted/,
      );
      assert.match(
        text,
        new RegExp(
          `✓ Verified: ${claims.length} claims hold \\(0 not checked: absent\\), smoke passed\\.`,
        ),
      );
      // The troubleshooter is asked with the project number filled in.
      assert.ok(
        fake.calls.some(c =>
          c.includes(
            `--principal-email=service-${PROJECT_NUMBER}@gcp-sa-cloudscheduler.iam.gserviceaccount.com`,
          ),
        ),
      );
      // The smoke: arr with the functions' environment, through the same seam.
      const smoke = fake.calls.filter(c => c[0] === 'env');
      assert.deepEqual(
        smoke.map(c => c.slice(c.indexOf('/fake/arr.js') + 1)),
        [['setup', '--dry-run'], ['teardown', '--dry-run'], ['status']],
      );
      assert.ok(
        smoke.every(c => c.includes(`GOOGLE_CLOUD_PROJECT=${o.project}`)),
      );
      assert.ok(
        smoke.every(c =>
          c.includes(`EPHEMERAL_REPOSITORY=${o.ephemeralRepository}`),
        ),
      );
    });

    it('every claim, failing alone, fails verify with its row and a fix', async () => {
      for (const target of claims) {
        const fake = fakeExec(argv => {
          const claim = claimOf(argv, claims);
          return {
            exitCode: 0,
            stdout: answerFor(claim, claim === target),
            stderr: '',
          };
        });
        const {report, text} = await run(fake, false);
        const failed = report.claims.filter(r => !r.ok);
        assert.equal(
          report.ok,
          false,
          `${target.principal} ${target.permission}`,
        );
        assert.equal(failed.length, 1);
        assert.equal(failed[0].claim.permission, target.permission);
        assert.match(text, /✗ Verify failed: 1 of \d+ claims\./);
        assert.match(text, /^✗ /m);
        assert.match(
          text,
          /\n {6}fix: (run npm run deploy -- --project arr-sample-project again|remove the binding that grants it)/,
        );
        if (
          target.expected === 'granted' &&
          target.resource.kind === 'repository' &&
          target.resource.tier === 'ephemeral' &&
          target.grant?.condition
        ) {
          assert.match(text, /arr setup binds it/);
        }
        if (
          target.expected === 'denied' &&
          target.resource.kind === 'repository' &&
          target.resource.tier === 'persistent'
        ) {
          assert.match(
            text,
            /binds arr-sample-project\/arr-lifecycle\/persistent on arr-coc-registry-persistent itself/,
          );
        }
      }
    });

    it('UNKNOWN answers and failed troubleshooter calls fail closed, saying so', async () => {
      const fake = fakeExec(argv => {
        const claim = claimOf(argv, claims);
        if (
          claim.permission === DELETE_REPOSITORY &&
          claim.principal === id.functions['teardown-requested']
        ) {
          return {
            exitCode: 0,
            stdout: response('UNKNOWN_CONDITIONAL', [
              binding(teardownRole, 'UNKNOWN_CONDITIONAL', {}),
            ]),
            stderr: '',
          };
        }
        if (
          claim.permission === UPLOAD_ARTIFACTS &&
          claim.principal === id.builder
        ) {
          return {
            exitCode: 1,
            stdout: '',
            stderr:
              'ERROR: (gcloud.policy-intelligence.troubleshoot-policy.iam) PERMISSION_DENIED: iam.serviceAccounts.getIamPolicy',
          };
        }
        return {exitCode: 0, stdout: answerFor(claim, false), stderr: ''};
      });
      const {report, text} = await run(fake, false);
      assert.equal(report.ok, false);
      // Teardown × delete × two repositories; the builder × push × three (its own, and the
      // functions' image repository, where it is denied).
      assert.equal(report.claims.filter(r => !r.ok).length, 5);
      assert.match(text, /UNKNOWN_CONDITIONAL \(fails closed\)/);
      assert.match(
        text,
        /gcloud exited 1 \(fails closed\) +.*PERMISSION_DENIED/,
      );
      assert.match(
        text,
        /the troubleshooter could not decide \(UNKNOWN_CONDITIONAL\), which counts as a failure/,
      );
    });

    it('an absent repository is "not checked: absent", not a failure', async () => {
      const fake = fakeExec(
        argv => ({
          exitCode: 0,
          stdout: answerFor(claimOf(argv, claims), false),
          stderr: '',
        }),
        [o.persistentRepository, FUNCTION_IMAGES_REPOSITORY],
      );
      const {report, text} = await run(fake, false);
      assert.equal(report.ok, true);
      assert.match(
        text,
        /teardown-requested .* arr-coc-registry \(ephemeral\) +granted +not checked: absent/,
      );
      assert.ok(
        !fake.calls.some(c =>
          c.includes(
            `//artifactregistry.googleapis.com/projects/${o.project}/locations/${o.region}/repositories/${o.ephemeralRepository}`,
          ),
        ),
      );
      const absent = claims.filter(
        c =>
          c.resource.kind === 'repository' && c.resource.tier === 'ephemeral',
      ).length;
      assert.match(
        text,
        new RegExp(`claims hold \\(${absent} not checked: absent\\)`),
      );
    });

    it('lists who can publish to teardown-requested and cloud-builds, with the indirect routes', async () => {
      const fake = fakeExec(
        argv => ({
          exitCode: 0,
          stdout: answerFor(claimOf(argv, claims), false),
          stderr: '',
        }),
        undefined,
        undefined,
        {
          project: {
            bindings: [
              {role: 'roles/editor', members: ['user:ed@example.com']},
              {
                role: 'roles/cloudscheduler.admin',
                members: ['user:cron@example.com'],
              },
              {
                role: 'roles/cloudbuild.builds.builder',
                members: [
                  `serviceAccount:${PROJECT_NUMBER}@cloudbuild.gserviceaccount.com`,
                ],
              },
              {
                role: 'projects/arr-sample-project/roles/somethingElse',
                members: ['user:odd@example.com'],
              },
              {
                role: 'roles/datastore.user',
                members: ['user:reader@example.com'],
              },
            ],
          },
          [o.teardownRequestedTopic]: {
            bindings: [
              {
                role: 'roles/pubsub.publisher',
                members: [`serviceAccount:${withNumber(id.schedulerAgent)}`],
              },
            ],
          },
        },
      );
      const {report, text} = await run(fake, false);
      assert.equal(report.ok, true, text);
      for (const topic of [o.teardownRequestedTopic, o.cloudBuildsTopic]) {
        const here = report.publishers.filter(p => p.topic === topic);
        const routeOf = (member: string) =>
          here
            .filter(p => p.member === member)
            .map(p => p.route)
            .join(' | ');
        assert.match(routeOf('user:ed@example.com'), /Editor: publishes/);
        assert.match(routeOf('user:ed@example.com'), /Cloud Scheduler job/);
        assert.match(
          routeOf('user:cron@example.com'),
          /can create a Cloud Scheduler job, which may publish to any topic in the project/,
        );
        assert.match(
          routeOf(
            `serviceAccount:${PROJECT_NUMBER}@cloudbuild.gserviceaccount.com`,
          ),
          /legacy Cloud Build account.*any build submitted without a service account runs as it/,
        );
        assert.match(routeOf('user:odd@example.com'), /check whether it holds/);
        assert.equal(
          routeOf('user:reader@example.com'),
          '',
          'a role without publish',
        );
        assert.match(routeOf('Cloud Build'), /options\.pubsubTopic/);
      }
      assert.match(
        text,
        /Who can publish to teardown-requested .*\n {2}- serviceAccount:service-123456789012@gcp-sa-cloudscheduler\.iam\.gserviceaccount\.com: Pub\/Sub Publisher: publishes, on the topic/,
      );
      assert.doesNotMatch(text, /Cloud Build publishes .*only/);
    });

    it('a failed smoke step fails verify and stops the smoke there', async () => {
      const fake = fakeExec(
        argv => ({
          exitCode: 0,
          stdout: answerFor(claimOf(argv, claims), false),
          stderr: '',
        }),
        undefined,
        'teardown',
      );
      const {report, text} = await run(fake);
      assert.equal(report.ok, false);
      assert.deepEqual(
        report.smoke.map(s => s.ok),
        [true, false],
      );
      assert.match(text, /✗ dry-run teardown, followed: ✗ Failed: injected/);
      assert.match(text, /✗ Verify failed: 0 of \d+ claims, smoke\./);
    });
  });

  it('flags: --verify, --no-verify, --no-smoke', () => {
    assert.equal(parseDeployArgs(SAMPLE_ARGS).verify, 'after');
    assert.equal(parseDeployArgs([...SAMPLE_ARGS, '--verify']).verify, 'only');
    assert.equal(
      parseDeployArgs([...SAMPLE_ARGS, '--no-verify']).verify,
      'skip',
    );
    assert.equal(parseDeployArgs([...SAMPLE_ARGS, '--no-smoke']).smoke, false);
    assert.throws(
      () => parseDeployArgs([...SAMPLE_ARGS, '--verify', '--no-verify']),
      DeployOptionsError,
    );
    assert.throws(
      () => parseDeployArgs([...SAMPLE_ARGS, '--verify', '--dry-run']),
      DeployOptionsError,
    );
    assert.throws(
      () => parseDeployArgs([...SAMPLE_ARGS, '--verify=yes']),
      DeployOptionsError,
    );
  });
});
