// The admin console's endpoints: types as served and one typed function per endpoint. Older
// resources (users, API keys, models, tenants) are snake_case, the console's new ones
// camelCase; both are kept as the server sends them (tenants are normalized, see below).
import type { ApiClient } from './client';
import type { Role, TenantTheme } from './types';

export const ROLES: readonly Role[] = ['viewer', 'creator', 'manager', 'admin'];

// --- users, invitations, API keys --------------------------------------------------------

export interface UserView {
  id: string;
  email: string;
  display_name: string | null;
  role: Role;
  is_super_admin: boolean;
  /** `active` or `deactivated`. */
  status: string;
  /** No password yet: the invite link has not been used. */
  invited: boolean;
  created_at: string;
  updated_at: string;
}

export interface UserUpdate {
  role?: Role;
  display_name?: string;
  status?: 'active' | 'deactivated';
  password?: string;
}

/** A one-time link: `inviteUrl` is a path (`/invite#<token>`); prefix the page's origin. */
export interface OneTimeLink {
  token: string;
  inviteUrl: string;
  expiresAt: string;
}

export interface InviteResult extends OneTimeLink {
  user: UserView;
}

export interface ApiKeyView {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreatedApiKey extends ApiKeyView {
  /** The key itself, shown once. */
  secret: string;
}

// --- models, tools, policies, theme ------------------------------------------------------

export type Provider = 'openai' | 'anthropic';

/** A model as an admin sees it (the upstream key is never returned, only `has_api_key`). */
export type ModelKind = 'chat' | 'embedding';

export interface AdminModel {
  id: string;
  name: string;
  provider: Provider | string;
  /** `chat`, or `embedding` (knowledge collections name it as their embedding model). */
  kind?: ModelKind | string;
  /** An embedding model's vector size. */
  dimensions?: number;
  is_default: boolean;
  context_window: number;
  base_url?: string;
  model?: string;
  has_api_key?: boolean;
  max_output_tokens?: number;
  price_input_per_1k?: number;
  price_output_per_1k?: number;
  fallback?: string | null;
}

/** PATCH semantics: omitted fields stay; `api_key: ''` removes the stored key. */
export interface ModelBody {
  name?: string;
  /** Fixed once the model exists. */
  kind?: ModelKind;
  dimensions?: number;
  provider?: Provider;
  base_url?: string;
  api_key?: string;
  model?: string;
  context_window?: number;
  max_output_tokens?: number;
  price_input_per_1k?: number;
  price_output_per_1k?: number;
  is_default?: boolean;
  fallback?: string;
}

export type ModelTestResult =
  | { ok: true; reply: string; latencyMs: number; model: string }
  | { ok: false; error: { code: string; message: string }; latencyMs: number; model: string };

export interface AdminTool {
  name: string;
  description: string;
  parameters: unknown;
  minRole: Role;
  timeoutSec: number;
  enabled: boolean;
  roles: Role[];
  customRoles: boolean;
  usable: boolean;
}

export interface Policies {
  /** A model not listed is open to every role. */
  modelRoles: Record<string, Role[]>;
  toolRoles: Record<string, Role[]>;
  maxTokensPerMessage: number | null;
  retentionDays: number | null;
  /** Put before every conversation's own system prompt; null: none. */
  systemPrompt?: string | null;
}

// --- audit, analytics, health, tenants -----------------------------------------------------

export interface AuditEntry {
  id: number | string;
  at: string;
  actorId: string | null;
  actorEmail: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  payloadSha256: string | null;
  details: unknown;
}

export interface AuditPage {
  items: AuditEntry[];
  nextBefore: number | string | null;
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: string;
  to?: string;
}

export type GroupBy = 'day' | 'model' | 'user' | 'tool';

export interface AnalyticsRow {
  key: string;
  label: string | null;
  activeUsers: number | null;
  conversations: number | null;
  messages: number | null;
  runs: number | null;
  failedRuns: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  toolRuns: number | null;
  toolFailures: number | null;
  toolP50Ms: number | null;
  toolP95Ms: number | null;
}

export interface Analytics {
  from: string;
  to: string;
  groupBy: GroupBy;
  totals: AnalyticsRow;
  rows: AnalyticsRow[];
  errors: { code: string; count: number }[];
}

export interface AnalyticsQuery {
  from: string;
  to: string;
  groupBy: GroupBy;
}

export interface HealthCheck {
  name: string;
  ok: boolean;
  latencyMs: number | null;
  detail: string | null;
}

export interface InstanceView {
  id: string;
  /** Only the super-admin sees where the platform runs. */
  host: string | null;
  roles: string[];
  version: string;
  startedAt: string;
  lastSeenAt: string;
  alive: boolean;
}

export interface QueueDepth {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

export interface FailedJob {
  id: string;
  queue: string;
  tool: string;
  error: string | null;
  attempts: number;
  finishedAt: string | null;
}

export interface AdminHealth {
  status: 'ok' | 'degraded' | string;
  checks: HealthCheck[];
  instances: InstanceView[];
  queues: QueueDepth[];
  recentFailedJobs: FailedJob[];
}

export interface TenantView {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended' | string;
  rateLimitPerMinute: number | null;
  createdAt: string;
  users: number | null;
  storageBytes: number | null;
}

export interface CreateTenant {
  name: string;
  slug?: string;
  admin_email?: string;
  admin_password?: string;
}

export interface TenantPatch {
  name?: string;
  status?: 'active' | 'suspended';
  rateLimitPerMinute?: number | null;
}

type Raw = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The tenant list mixes the older snake_case view with the console's camelCase fields. */
export function normalizeTenant(raw: Raw): TenantView {
  const pick = (camel: string, snake: string) => (raw[camel] !== undefined ? raw[camel] : raw[snake]);
  return {
    id: String(raw.id),
    slug: String(raw.slug ?? ''),
    name: String(raw.name ?? ''),
    status: String(raw.status ?? 'active'),
    rateLimitPerMinute: num(pick('rateLimitPerMinute', 'rate_limit_per_minute')),
    createdAt: String(pick('createdAt', 'created_at') ?? ''),
    users: num(pick('users', 'user_count')),
    storageBytes: num(pick('storageBytes', 'storage_bytes')),
  };
}

/** A downloaded file: its bytes and the server's file name (Content-Disposition), if any. */
export interface Download {
  blob: Blob;
  filename: string | null;
}

/** `attachment; filename="audit-x-2025-01-01.csv"` (or RFC 5987 `filename*=`) → the name. */
export function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/.exec(header);
  const name = (plain?.[2] ?? plain?.[1])?.trim();
  // Never let a server-sent name carry a path.
  return name ? name.replace(/[/\\]/g, '_') : null;
}

/** The console's endpoints, all through the one `ApiClient` (auth, refresh, problem+json). */
export class AdminApi {
  constructor(private readonly client: ApiClient) {}

  /** A file answer (CSV exports): the bytes and the server's file name. */
  async download(path: string, query: Record<string, string | number | undefined>): Promise<Download> {
    const res = await this.client.raw(path, { query });
    return { blob: await res.blob(), filename: filenameFromDisposition(res.headers.get('content-disposition')) };
  }

  // users
  users(): Promise<UserView[]> {
    return this.client.json('/api/v1/users');
  }
  invite(body: { email: string; role: Role; displayName?: string }): Promise<InviteResult> {
    return this.client.json('/api/v1/users/invite', { body: { ...body } });
  }
  updateUser(id: string, body: UserUpdate): Promise<UserView> {
    return this.client.json(`/api/v1/users/${id}`, { method: 'PATCH', body: { ...body } });
  }
  async deleteUser(id: string): Promise<void> {
    await this.client.raw(`/api/v1/users/${id}`, { method: 'DELETE' });
  }
  resetLink(id: string): Promise<OneTimeLink> {
    return this.client.json(`/api/v1/users/${id}/reset-link`, { method: 'POST' });
  }

  // API keys
  apiKeys(): Promise<ApiKeyView[]> {
    return this.client.json('/api/v1/api-keys');
  }
  createApiKey(name: string): Promise<CreatedApiKey> {
    return this.client.json('/api/v1/api-keys', { body: { name } });
  }
  async revokeApiKey(id: string): Promise<void> {
    await this.client.raw(`/api/v1/api-keys/${id}`, { method: 'DELETE' });
  }

  // models
  models(): Promise<AdminModel[]> {
    return this.client.json('/api/v1/models');
  }
  createModel(body: ModelBody): Promise<AdminModel> {
    return this.client.json('/api/v1/models', { body: { ...body } });
  }
  updateModel(id: string, body: ModelBody): Promise<AdminModel> {
    return this.client.json(`/api/v1/models/${id}`, { method: 'PATCH', body: { ...body } });
  }
  async deleteModel(id: string): Promise<void> {
    await this.client.raw(`/api/v1/models/${id}`, { method: 'DELETE' });
  }
  testModel(id: string): Promise<ModelTestResult> {
    return this.client.json(`/api/v1/models/${id}/test`, { method: 'POST' });
  }

  // tools and policies
  tools(): Promise<AdminTool[]> {
    return this.client.json('/api/v1/tools');
  }
  updateTool(name: string, body: { enabled?: boolean; roles?: Role[] | null }): Promise<AdminTool> {
    return this.client.json(`/api/v1/tools/${encodeURIComponent(name)}`, { method: 'PATCH', body: { ...body } });
  }
  policies(): Promise<Policies> {
    return this.client.json('/api/v1/policies');
  }
  savePolicies(p: Policies): Promise<Policies> {
    return this.client.json('/api/v1/policies', { method: 'PUT', body: { ...p } });
  }

  // theme
  theme(): Promise<TenantTheme> {
    return this.client.json('/api/v1/themes');
  }
  saveTheme(t: TenantTheme): Promise<TenantTheme> {
    return this.client.json('/api/v1/themes', { method: 'PUT', body: { ...t } });
  }

  // audit
  audit(filters: AuditFilters, before?: number | string | null, limit = 50): Promise<AuditPage> {
    return this.client.json('/api/v1/admin/audit', { query: { ...filters, before: before ?? undefined, limit } });
  }
  auditCsv(filters: AuditFilters): Promise<Download> {
    return this.download('/api/v1/admin/audit', { ...filters, format: 'csv' });
  }

  // analytics and health
  analytics(q: AnalyticsQuery): Promise<Analytics> {
    return this.client.json('/api/v1/admin/analytics', { query: { ...q } });
  }
  analyticsCsv(q: AnalyticsQuery): Promise<Download> {
    return this.download('/api/v1/admin/analytics', { ...q, format: 'csv' });
  }
  health(): Promise<AdminHealth> {
    return this.client.json('/api/v1/admin/health');
  }

  // tenants (super-admin)
  async tenants(): Promise<TenantView[]> {
    const raw = await this.client.json<Raw[]>('/api/v1/tenants');
    return raw.map(normalizeTenant);
  }
  async createTenant(body: CreateTenant): Promise<TenantView> {
    return normalizeTenant(await this.client.json<Raw>('/api/v1/tenants', { body: { ...body } }));
  }
  async updateTenant(id: string, body: TenantPatch): Promise<TenantView> {
    return normalizeTenant(await this.client.json<Raw>(`/api/v1/tenants/${id}`, { method: 'PATCH', body: { ...body } }));
  }
}
