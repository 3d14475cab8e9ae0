/**
 * Steps creating who acts: the custom roles and the service accounts of deploy/iam.ts.
 */
import {CustomRole, customRoleName, serviceAccountsToCreate} from './iam';
import type {DeployOptions} from './options';
import {
  EnsureStep,
  ProbeError,
  describeJudge,
  field,
  projectFlag,
} from './steps';

export function customRoleStep(o: DeployOptions, role: CustomRole): EnsureStep {
  const permissions = [...role.permissions].sort();
  const flags = [
    `--title=${role.title}`,
    `--description=${role.description}`,
    `--permissions=${permissions.join(',')}`,
    '--stage=GA',
    ...projectFlag(o),
    '--quiet',
  ];
  const name = customRoleName(o.project, role.id);
  return {
    kind: 'ensure',
    title: `Custom role ${role.id} (${permissions.join(', ')})`,
    probe: [
      'gcloud',
      'iam',
      'roles',
      'describe',
      role.id,
      ...projectFlag(o),
      '--format=json',
    ],
    judge: describeJudge(`custom role ${name}`, r => {
      if (field(r, 'deleted') === true) {
        throw new ProbeError(
          `Custom role ${name} was deleted and its id is reserved. Run ` +
            `\`gcloud iam roles undelete ${role.id} --project=${o.project}\`, then re-run deploy.`,
        );
      }
      const have = field(r, 'includedPermissions');
      return (
        Array.isArray(have) &&
        JSON.stringify([...(have as string[])].sort()) ===
          JSON.stringify(permissions)
      );
    }),
    create: [['gcloud', 'iam', 'roles', 'create', role.id, ...flags]],
    update: [['gcloud', 'iam', 'roles', 'update', role.id, ...flags]],
  };
}

export function serviceAccountSteps(o: DeployOptions): EnsureStep[] {
  return serviceAccountsToCreate(o).map(account => ({
    kind: 'ensure',
    title: `Service account ${account.email}`,
    probe: [
      'gcloud',
      'iam',
      'service-accounts',
      'describe',
      account.email,
      ...projectFlag(o),
      '--format=json',
    ],
    judge: describeJudge(`service account ${account.email}`),
    create: [
      [
        'gcloud',
        'iam',
        'service-accounts',
        'create',
        account.id,
        `--display-name=${account.displayName}`,
        `--description=${account.description}`,
        ...projectFlag(o),
        '--quiet',
      ],
    ],
    update: [],
  }));
}
