/**
 * Resource Manager tags as the TagBindings stand-in keeps them: tag values (defined up
 * front, as deploy creates them), and bindings of a value to a resource named by its full
 * resource name (`//artifactregistry.googleapis.com/projects/P/locations/L/repositories/R`).
 *
 * The rules the real service documents and the control plane relies on:
 * - one resource holds at most one value per key (a second value of the key is refused);
 * - a resource inherits the tags of its ancestors, and a value bound directly overrides
 *   the inherited value of the same key;
 * - deleting a resource deletes its bindings, so a resource re-created under the same name
 *   starts untagged (here: a binding made on another incarnation of its resource, or on one
 *   that no longer exists, is dropped when it is next read).
 * Simplification: the only ancestor modelled is the project, named by the same token as in
 * the resource's own name (`//cloudresourcemanager.googleapis.com/projects/P`); the stand-in
 * does not map project ids to numbers.
 */
import {
  StandInError,
  alreadyExists,
  invalidArgument,
  notFound,
} from './grpc-errors';
import {grpc} from 'google-gax';

export interface TagValueDefinition {
  /** `tagValues/N` */
  id: string;
  /** `P/key/value` */
  namespacedName: string;
  /** `tagKeys/N` */
  keyId: string;
  /** `P/key` */
  namespacedKey: string;
  /** `projects/P` (or `organizations/N`), the key's parent. */
  keyParent: string;
}

export interface StoredTagBinding {
  /** `tagBindings/{url-encoded full resource name}/tagValues/N`, as the real API names it. */
  name: string;
  parent: string;
  value: TagValueDefinition;
  /** The incarnation of the resource it was made on (see ResourceIncarnation). */
  incarnation?: object;
}

export interface EffectiveTagValue {
  value: TagValueDefinition;
  inherited: boolean;
}

/**
 * The resource a full resource name names, as an object that is the same for as long as the
 * resource lives (a re-created resource is another object); null when it does not exist;
 * undefined when the stand-in cannot tell (resources of other services).
 */
export type ResourceIncarnation = (
  fullResourceName: string,
) => object | null | undefined;

const FULL_RESOURCE_NAME = /^\/\/[a-z0-9.-]+\.googleapis\.com\/.+$/;
const NAMESPACED_VALUE = /^([^/]+)\/([^/]+)\/([^/]+)$/;
const PROJECT_IN_NAME =
  /^\/\/[a-z0-9.-]+\.googleapis\.com\/projects\/([^/]+)(\/.*)?$/;
const CRM = '//cloudresourcemanager.googleapis.com';

export function bindingName(parent: string, value: TagValueDefinition): string {
  return `tagBindings/${encodeURIComponent(parent)}/${value.id}`;
}

/** The ancestors whose tags `resource` inherits, nearest first (here: its project). */
export function ancestorsOf(resource: string): string[] {
  const match = PROJECT_IN_NAME.exec(resource);
  if (!match) return [];
  const project = `${CRM}/projects/${match[1]}`;
  return project === resource ? [] : [project];
}

export function validateFullResourceName(name: string, field: string): string {
  if (!FULL_RESOURCE_NAME.test(name)) {
    throw invalidArgument(
      `${field} must be a full resource name such as //cloudresourcemanager.googleapis.com/projects/123, got "${name}"`,
    );
  }
  return name;
}

export class TagBindingStore {
  private readonly values = new Map<string, TagValueDefinition>();
  private readonly keys = new Map<string, string>();
  private readonly bindings = new Map<string, Map<string, StoredTagBinding>>();
  private counter = 0;

  constructor(
    private readonly incarnationOf: ResourceIncarnation = () => undefined,
  ) {}

  /** Defines `P/key/value` (and its key) if it is not defined yet. */
  defineValue(namespacedName: string): TagValueDefinition {
    const known = this.values.get(namespacedName);
    if (known) return known;
    const match = NAMESPACED_VALUE.exec(namespacedName);
    if (!match) {
      throw new Error(
        `a tag value is named namespace/key/value, got "${namespacedName}"`,
      );
    }
    const [, namespace, key] = match;
    const namespacedKey = `${namespace}/${key}`;
    let keyId = this.keys.get(namespacedKey);
    if (keyId === undefined) {
      keyId = `tagKeys/${this.nextId()}`;
      this.keys.set(namespacedKey, keyId);
    }
    const definition: TagValueDefinition = {
      id: `tagValues/${this.nextId()}`,
      namespacedName,
      keyId,
      namespacedKey,
      keyParent: /^\d+$/.test(namespace)
        ? `organizations/${namespace}`
        : `projects/${namespace}`,
    };
    this.values.set(namespacedName, definition);
    return definition;
  }

  /** The value a request names, by id (`tagValues/N`) or namespaced name; exactly one. */
  resolveValue(tagValue: string, namespacedName: string): TagValueDefinition {
    if ((tagValue === '') === (namespacedName === '')) {
      throw invalidArgument(
        'exactly one of tag_value and tag_value_namespaced_name must be given',
      );
    }
    const found =
      tagValue !== ''
        ? [...this.values.values()].find(v => v.id === tagValue)
        : this.values.get(namespacedName);
    if (!found) {
      // The real service does not say whether a value exists to callers who may not see it.
      throw new StandInError(
        grpc.status.PERMISSION_DENIED,
        `Permission denied on tag value ${tagValue || namespacedName} (or it may not exist)`,
      );
    }
    return found;
  }

  bind(
    parent: string,
    value: TagValueDefinition,
    validateOnly = false,
  ): StoredTagBinding {
    validateFullResourceName(parent, 'tag_binding.parent');
    const incarnation = this.incarnationOf(parent);
    if (incarnation === null) {
      throw notFound(`Resource ${parent} was not found`);
    }
    const direct = this.direct(parent);
    const sameKey = direct.find(b => b.value.keyId === value.keyId);
    if (sameKey?.value.id === value.id) {
      throw alreadyExists(`Tag binding ${sameKey.name} already exists`);
    }
    if (sameKey) {
      throw new StandInError(
        grpc.status.FAILED_PRECONDITION,
        `${parent} already has a value of tag key ${value.namespacedKey} (${sameKey.value.namespacedName}); a resource holds one value per key`,
      );
    }
    const binding: StoredTagBinding = {
      name: bindingName(parent, value),
      parent,
      value,
      incarnation,
    };
    if (!validateOnly) {
      const onParent =
        this.bindings.get(parent) ?? new Map<string, StoredTagBinding>();
      onParent.set(value.id, binding);
      this.bindings.set(parent, onParent);
    }
    return binding;
  }

  unbind(name: string): void {
    for (const [parent, onParent] of this.bindings) {
      for (const [valueId, binding] of onParent) {
        if (binding.name === name) {
          onParent.delete(valueId);
          if (onParent.size === 0) this.bindings.delete(parent);
          return;
        }
      }
    }
    throw notFound(`Tag binding ${name} was not found`);
  }

  /** The bindings made on `parent` itself. */
  direct(parent: string): StoredTagBinding[] {
    const onParent = this.bindings.get(parent);
    if (!onParent) return [];
    const current = this.incarnationOf(parent);
    for (const [valueId, binding] of onParent) {
      // The resource was deleted (and maybe re-created): its bindings went with it.
      if (
        current === null ||
        (current !== undefined && binding.incarnation !== current)
      ) {
        onParent.delete(valueId);
      }
    }
    if (onParent.size === 0) this.bindings.delete(parent);
    return [...onParent.values()];
  }

  /** Direct values, then inherited ones whose key has no nearer value. */
  effective(parent: string): EffectiveTagValue[] {
    const out: EffectiveTagValue[] = this.direct(parent).map(b => ({
      value: b.value,
      inherited: false,
    }));
    for (const ancestor of ancestorsOf(parent)) {
      for (const b of this.direct(ancestor)) {
        if (!out.some(e => e.value.keyId === b.value.keyId)) {
          out.push({value: b.value, inherited: true});
        }
      }
    }
    return out;
  }

  /** Forgets bindings; with `definitions`, tag values too. */
  clear(definitions = true): void {
    this.bindings.clear();
    if (definitions) {
      this.values.clear();
      this.keys.clear();
    }
  }

  private nextId(): string {
    this.counter += 1;
    return String(281474976710656 + this.counter);
  }
}
