// A tool's JSON Schema as rows a person can read: one per parameter (nested object fields as
// `parent.child`, fields of array items as `parent[].child`), with type, whether it is
// required, its description and its constraints in words.

export interface SchemaRow {
  name: string;
  /** Depth of nesting (0 = a top-level parameter). */
  depth: number;
  type: string;
  required: boolean;
  description: string;
  constraints: string[];
}

type Schema = Record<string, unknown>;

const isObj = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

function range(min: unknown, max: unknown, unit: string): string | null {
  const lo = typeof min === 'number' ? min : null;
  const hi = typeof max === 'number' ? max : null;
  if (lo !== null && hi !== null) return lo === hi ? `exactly ${lo} ${unit}` : `${lo}–${hi} ${unit}`;
  if (lo !== null) return `at least ${lo} ${unit}`;
  if (hi !== null) return `at most ${hi} ${unit}`;
  return null;
}

/** `string`, `integer | null`, `array of string`, `object`, `one of: a | b`… */
export function typeOf(s: Schema): string {
  const variants = (s.anyOf ?? s.oneOf) as unknown;
  if (Array.isArray(variants)) return variants.filter(isObj).map(typeOf).join(' | ') || 'any';
  const t = s.type;
  if (Array.isArray(t)) return t.map(String).join(' | ');
  if (t === 'array') {
    const items = s.items;
    return isObj(items) ? `array of ${typeOf(items)}` : 'array';
  }
  if (typeof t === 'string') return t;
  if (Array.isArray(s.enum)) return 'enum';
  if (isObj(s.properties)) return 'object';
  if (typeof s.$ref === 'string') return s.$ref.split('/').pop() ?? 'object';
  return 'any';
}

/** The constraints of one schema, in words. */
export function constraintsOf(s: Schema): string[] {
  const out: string[] = [];
  if (Array.isArray(s.enum)) out.push(`one of: ${s.enum.map(show).join(', ')}`);
  if (s.const !== undefined) out.push(`always ${show(s.const)}`);
  if (typeof s.format === 'string') out.push(`format: ${s.format}`);
  if (typeof s.pattern === 'string') out.push(`pattern: ${s.pattern}`);
  const length = range(s.minLength, s.maxLength, 'characters');
  if (length) out.push(length);
  const items = range(s.minItems, s.maxItems, 'items');
  if (items) out.push(items);
  if (s.uniqueItems === true) out.push('unique items');
  const lo = typeof s.minimum === 'number' ? `≥ ${s.minimum}` : typeof s.exclusiveMinimum === 'number' ? `> ${s.exclusiveMinimum}` : null;
  const hi = typeof s.maximum === 'number' ? `≤ ${s.maximum}` : typeof s.exclusiveMaximum === 'number' ? `< ${s.exclusiveMaximum}` : null;
  if (lo && hi) out.push(`${lo} and ${hi}`);
  else if (lo ?? hi) out.push((lo ?? hi) as string);
  if (typeof s.multipleOf === 'number') out.push(`multiple of ${s.multipleOf}`);
  const itemSchema = s.items;
  if (s.type === 'array' && isObj(itemSchema) && !isObj(itemSchema.properties)) {
    out.push(...constraintsOf(itemSchema).map((c) => `each: ${c}`));
  }
  if (s.default !== undefined) out.push(`default: ${show(s.default)}`);
  return out;
}

function walk(s: Schema, prefix: string, depth: number, out: SchemaRow[]): void {
  const props = s.properties;
  if (!isObj(props)) return;
  const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
  for (const [key, raw] of Object.entries(props)) {
    const p = isObj(raw) ? raw : {};
    const name = prefix ? `${prefix}.${key}` : key;
    out.push({
      name,
      depth,
      type: typeOf(p),
      required: required.has(key),
      description: typeof p.description === 'string' ? p.description : typeof p.title === 'string' ? p.title : '',
      constraints: constraintsOf(p),
    });
    if (isObj(p.properties)) walk(p, name, depth + 1, out);
    const items = p.items;
    if (p.type === 'array' && isObj(items) && isObj(items.properties)) walk(items, `${name}[]`, depth + 1, out);
  }
}

/** Every parameter of an object schema, in the schema's order, nested fields after their parent. */
export function schemaRows(schema: unknown): SchemaRow[] {
  const out: SchemaRow[] = [];
  if (isObj(schema)) walk(schema, '', 0, out);
  return out;
}

/** Whether the schema refuses parameters it does not list. */
export function isClosed(schema: unknown): boolean {
  return isObj(schema) && schema.additionalProperties === false;
}
