// The policy document's role matrices: which roles may use a model or a tool.
import { ROLES, type Policies } from '../api/admin';
import type { Role } from '../api/types';

/** A model the document does not list is open to every role. */
export function modelRoles(doc: Policies, model: string): readonly Role[] {
  return doc.modelRoles[model] ?? ROLES;
}

/** Grants `role` the model (or takes it away); a model open to all roles is left unlisted. */
export function setModelRole(doc: Policies, model: string, role: Role, on: boolean): Policies {
  const current = modelRoles(doc, model);
  const next = ROLES.filter((r) => (r === role ? on : current.includes(r)));
  const modelRolesNext = { ...doc.modelRoles };
  if (next.length === ROLES.length) delete modelRolesNext[model];
  else modelRolesNext[model] = next;
  return { ...doc, modelRoles: modelRolesNext };
}

/** A tool's roles: the document's, else the tool's current grants (`fallback`). */
export function toolRoles(doc: Policies, tool: string, fallback: readonly Role[]): readonly Role[] {
  return doc.toolRoles[tool] ?? fallback;
}

export function setToolRole(doc: Policies, tool: string, fallback: readonly Role[], role: Role, on: boolean): Policies {
  const current = toolRoles(doc, tool, fallback);
  const next = ROLES.filter((r) => (r === role ? on : current.includes(r)));
  return { ...doc, toolRoles: { ...doc.toolRoles, [tool]: next } };
}

/** `''` → null (no limit); a whole number ≥ 1 → that number; anything else → undefined (invalid). */
export function parseLimit(text: string): number | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 1 && Number.isSafeInteger(n) ? n : undefined;
}

/** The first field error for `field` or one of its sub-fields (`modelRoles.gpt-4`). */
export function errorFor(errors: Record<string, string>, field: string): string | undefined {
  const key = Object.keys(errors).find((k) => k === field || k.startsWith(`${field}.`) || k.startsWith(`${field}[`));
  return key ? (key === field ? errors[key] : `${key.slice(field.length + 1) || key}: ${errors[key]}`) : undefined;
}
