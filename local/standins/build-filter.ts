/**
 * The subset of Cloud Build's ListBuilds filter language the stand-in understands: terms joined
 * by AND, each `FIELD="VALUE"` (quotes optional) or `FIELD!="VALUE"`, where FIELD is one of
 * `status`, `tags`, `id` / `build_id`, `images`. A list field (`tags`, `images`) matches when any
 * element equals the value. Anything else is refused with INVALID_ARGUMENT.
 */
import {invalidArgument} from './grpc-errors';

export const FILTER_FIELDS = [
  'status',
  'tags',
  'id',
  'build_id',
  'images',
] as const;
type FilterField = (typeof FILTER_FIELDS)[number];

export interface FilterableBuild {
  id: string;
  status: string;
  tags: readonly string[];
  images: readonly string[];
}

interface Term {
  field: FilterField;
  negated: boolean;
  value: string;
}

const TERM = /^\s*([a-z_]+)\s*(!=|=)\s*(?:"([^"]*)"|([^\s"]+))\s*$/;

export function parseBuildFilter(
  filter: string,
): (build: FilterableBuild) => boolean {
  if (filter.trim() === '') return () => true;
  const terms = filter.split(/\s+AND\s+/).map(text => parseTerm(text, filter));
  return build => terms.every(term => matches(term, build) !== term.negated);
}

function parseTerm(text: string, filter: string): Term {
  const match = TERM.exec(text);
  const field = match?.[1] ?? '';
  if (!match || !isFilterField(field)) {
    throw invalidArgument(
      `unsupported filter "${filter}": the Cloud Build stand-in supports terms ` +
        `FIELD="VALUE" or FIELD!="VALUE" joined by AND, with FIELD one of ${FILTER_FIELDS.join(', ')}`,
    );
  }
  return {
    field,
    negated: match[2] === '!=',
    value: match[3] ?? match[4],
  };
}

function isFilterField(value: string): value is FilterField {
  return FILTER_FIELDS.some(known => known === value);
}

function matches(term: Term, build: FilterableBuild): boolean {
  switch (term.field) {
    case 'status':
      return build.status === term.value;
    case 'id':
    case 'build_id':
      return build.id === term.value;
    case 'tags':
      return build.tags.includes(term.value);
    case 'images':
      return build.images.includes(term.value);
  }
}
