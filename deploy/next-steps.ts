/**
 * What happens after the plan's last step, in the words the dry run ends with: the IAM
 * verification, the live smoke, the roles they need, and the first setup.
 */
import type {DeployOptions} from './options';
import {publisherTopics} from './publishers';
import {TROUBLESHOOT_PAGE, deriveClaims} from './verify';

/** The operator's roles for verify (Troubleshoot IAM permissions). */
export function verifyRoles(): string {
  return (
    'Security Reviewer (roles/iam.securityReviewer) and Tag Viewer (roles/resourcemanager.tagViewer) on the project, ' +
    `or, inside an organisation, Security Reviewer on the organisation and Tag Viewer (a project Owner cannot read folder and organisation policies; ${TROUBLESHOOT_PAGE})`
  );
}

/** The first setup and the second deploy run that finishes what the first one skipped. */
export function firstSetupLines(o: DeployOptions): string[] {
  const again = `npm run deploy -- --project ${o.project} --region ${o.region}`;
  return [
    `publish the first setup (it creates ${o.persistentRepository} and ${o.ephemeralRepository}), then run this deploy again:`,
    `  GOOGLE_CLOUD_PROJECT=${o.project} REGION=${o.region} npx arr setup`,
    `  ${again}`,
    `  The second run binds arr-lifecycle=persistent on ${o.persistentRepository} itself and sets its cleanup policy (${o.persistentCleanup === 'dry-run' ? 'dry run' : 'enforced'}); the first run skips both because the repository does not exist yet.`,
  ];
}

export function afterTheLastStep(o: DeployOptions): string {
  const claims = deriveClaims(o).length;
  const lines = ['', 'After the last step, a real deploy goes on:'];
  if (o.verify === 'skip') {
    lines.push(
      `  - nothing else (--no-verify): run npm run deploy -- --project ${o.project} --verify later.`,
    );
  } else {
    lines.push(
      `  1. IAM verification: ${claims} claims asked of the Policy Troubleshooter (gcloud policy-intelligence troubleshoot-policy iam), ` +
        `and who can publish to ${publisherTopics(o).join(' and ')} read from the project's and the topics' IAM policies. ` +
        `The account running deploy needs ${verifyRoles()}.`,
    );
    if (o.smoke) {
      lines.push(
        '  2. Live smoke through arr: setup --dry-run and teardown --dry-run, each published and followed to success, then status. ' +
          `The same account needs to publish to ${o.setupRequestedTopic} and ${o.teardownRequestedTopic} (Pub/Sub Publisher, roles/pubsub.publisher; ` +
          'the operators group has it) and to read Firestore and Artifact Registry (roles/datastore.viewer, roles/artifactregistry.reader); an Owner has all of these.',
      );
    }
  }
  const [first, ...rest] = firstSetupLines(o);
  lines.push(
    `  ${o.verify === 'skip' ? '-' : o.smoke ? '3.' : '2.'} Once, after the first deploy: ${first}`,
    ...rest.map(l => `    ${l}`),
  );
  return lines.join('\n');
}
