/**
 * The `arr-lifecycle` tag as deploy leaves it in a project (deploy/lifecycle-tag-steps.ts), done on the
 * TagBindings stand-in: the key's two values exist, and the project holds `persistent`, so
 * every repository inherits it until setup binds `ephemeral` on the ephemeral one.
 */
import {lifecycleTagValue} from '../shared/repository-tags';
import type {TagBindingsStandIn} from './standins';

export function lifecycleTagValues(projectId: string): string[] {
  return [
    lifecycleTagValue(projectId, 'persistent'),
    lifecycleTagValue(projectId, 'ephemeral'),
  ];
}

export function projectFullResourceName(projectId: string): string {
  return `//cloudresourcemanager.googleapis.com/projects/${projectId}`;
}

/** Defines the values and binds `persistent` on the project, as deploy does. */
export function applyDeployedLifecycleTags(
  tagBindings: TagBindingsStandIn,
  projectId: string,
): void {
  for (const value of lifecycleTagValues(projectId)) {
    tagBindings.defineTagValue(value);
  }
  tagBindings.seedBinding(
    projectFullResourceName(projectId),
    lifecycleTagValue(projectId, 'persistent'),
  );
}
