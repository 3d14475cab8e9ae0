/**
 * The image catalog: which images exist, their tier, where their Dockerfile lives and
 * which image they build FROM. Checked in as `image-catalog.json`, validated on load.
 */
import {z} from 'zod';
import catalogFile from './image-catalog.json';

export const Tier = ['persistent', 'ephemeral'] as const;
export type Tier = (typeof Tier)[number];

/**
 * What an image's cache key covers: its Dockerfile alone (the default),
 * or its whole build context (every file under `context`, less what its .dockerignore
 * excludes: shared/context-digest.ts).
 */
export const KeyCovers = ['dockerfile', 'context'] as const;
export type KeyCovers = (typeof KeyCovers)[number];

const MACHINE_TYPES = [
  'UNSPECIFIED',
  'E2_MEDIUM',
  'E2_HIGHCPU_8',
  'E2_HIGHCPU_32',
  'N1_HIGHCPU_8',
  'N1_HIGHCPU_32',
] as const;

const CatalogImage = z.strictObject({
  name: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, {
    error: 'must be a Docker image name (lowercase, digits, . _ -)',
  }),
  tier: z.enum(Tier),
  dockerfile: z.string().min(1),
  context: z.string().min(1),
  parent: z.string().nullable(),
  buildTimeoutSeconds: z.number().int().min(60).max(86_400),
  machineType: z.enum(MACHINE_TYPES),
  keyCovers: z.enum(KeyCovers).optional(),
  description: z.string().optional(),
});
export type CatalogImage = z.infer<typeof CatalogImage>;

const CatalogFile = z.strictObject({images: z.array(CatalogImage).min(1)});

export class CatalogError extends Error {
  constructor(message: string) {
    super(`Invalid image catalog: ${message}`);
    this.name = 'CatalogError';
  }
}

export class Catalog {
  private readonly byName: ReadonlyMap<string, CatalogImage>;

  constructor(readonly images: readonly CatalogImage[]) {
    this.byName = new Map(images.map(image => [image.name, image]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): CatalogImage | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return this.images.map(image => image.name);
  }

  /** Images built FROM this one directly. */
  childrenOf(name: string): CatalogImage[] {
    return this.images.filter(image => image.parent === name);
  }

  /** Parents before children, so a rebuild can go down the chain in order. */
  inBuildOrder(): CatalogImage[] {
    const ordered: CatalogImage[] = [];
    const visit = (image: CatalogImage) => {
      if (ordered.includes(image)) return;
      if (image.parent) visit(this.byName.get(image.parent)!);
      ordered.push(image);
    };
    this.images.forEach(visit);
    return ordered;
  }

  ofTier(tier: Tier): CatalogImage[] {
    return this.images.filter(image => image.tier === tier);
  }
}

export function parseCatalog(raw: unknown): Catalog {
  const parsed = CatalogFile.safeParse(raw);
  if (!parsed.success) {
    throw new CatalogError(
      parsed.error.issues
        .map(i => `${i.path.join('.')}: ${i.message}`)
        .join('; '),
    );
  }
  const images = parsed.data.images;
  const names = new Set<string>();
  for (const image of images) {
    if (names.has(image.name))
      throw new CatalogError(`image ${image.name} is listed twice`);
    names.add(image.name);
  }
  const byName = new Map(images.map(image => [image.name, image]));
  for (const image of images) {
    if (image.parent === null) continue;
    const parent = byName.get(image.parent);
    if (!parent) {
      throw new CatalogError(
        `${image.name} has parent ${image.parent}, which is not in the catalog`,
      );
    }
    // A persistent image must survive teardown, so it cannot build FROM one that doesn't.
    if (image.tier === 'persistent' && parent.tier === 'ephemeral') {
      throw new CatalogError(
        `persistent ${image.name} cannot build FROM ephemeral ${parent.name}`,
      );
    }
    const seen = new Set([image.name]);
    for (
      let p: CatalogImage | undefined = parent;
      p;
      p = p.parent ? byName.get(p.parent) : undefined
    ) {
      if (seen.has(p.name))
        throw new CatalogError(`parent chain of ${image.name} has a cycle`);
      seen.add(p.name);
    }
  }
  return new Catalog(images);
}

/** The catalog's `keyCovers`, `dockerfile` when absent. */
export function keyCoversOf(image: Pick<CatalogImage, 'keyCovers'>): KeyCovers {
  return image.keyCovers ?? 'dockerfile';
}

let cached: Catalog | undefined;

/** The checked-in catalog, validated once. */
export function imageCatalog(): Catalog {
  cached ??= parseCatalog(catalogFile);
  return cached;
}
