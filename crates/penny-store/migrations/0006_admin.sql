-- Access and governance: invitation and password-reset links, per-tenant policies (which
-- roles may use which model, a cap on output tokens, conversation retention), the
-- tenant's theme, and the hourly marker of API-key use in the audit log.

-- One row per link. Only the SHA-256 of the token is stored; a link works once
-- (used_at), until it expires, and a newer link for the same user revokes older ones.
CREATE TABLE invitations (
  id          uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id     uuid NOT NULL,
  purpose     text NOT NULL CHECK (purpose IN ('invite', 'reset')),
  token_hash  bytea NOT NULL UNIQUE,
  created_by  uuid,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX invitations_user ON invitations (tenant_id, user_id);

-- Roles that may use a model. A model without a row is open to every role. Keyed by the
-- model's id, so renaming a model keeps its grants and deleting it drops them.
CREATE TABLE model_grants (
  tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  model_id   uuid NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  roles      text[] NOT NULL CHECK (roles <@ ARRAY['viewer', 'creator', 'manager', 'admin']),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id)
);
CREATE INDEX model_grants_tenant ON model_grants (tenant_id);

-- At most one row per tenant; no row means no limits.
CREATE TABLE tenant_policies (
  tenant_id              uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  max_tokens_per_message integer CHECK (max_tokens_per_message > 0),
  retention_days         integer CHECK (retention_days > 0),
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- At most one row per tenant; no row means the defaults (the tenant's name, no logo,
-- indigo). A logo is an https URL or a small data: URL (checked by the API, bounded here).
CREATE TABLE tenant_themes (
  tenant_id    uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  name         text CHECK (length(name) BETWEEN 1 AND 200),
  logo_url     text CHECK (length(logo_url) <= 400000),
  accent_color text NOT NULL CHECK (accent_color ~ '^#[0-9a-f]{6}$'),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

SELECT penny_enable_rls(t)
FROM unnest(ARRAY['invitations', 'model_grants', 'tenant_policies', 'tenant_themes']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE, DELETE ON invitations, model_grants, tenant_policies, tenant_themes
  TO penny_app;

-- When a key's use was last written to the audit log (at most once an hour per key).
ALTER TABLE api_keys ADD COLUMN use_audited_at timestamptz;

-- An invitation or reset link arrives before the tenant is known, like a refresh token:
-- this maps its digest to the tenant and nothing more; the rest runs under RLS.
CREATE FUNCTION penny_invitation_tenant(p_hash bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id FROM invitations WHERE token_hash = p_hash
$$;
REVOKE ALL ON FUNCTION penny_invitation_tenant(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_invitation_tenant(bytea) TO penny_app;

-- The retention sweep learns which tenants keep conversations for a limited time, and
-- then deletes under each tenant's RLS.
CREATE FUNCTION penny_retention_policies() RETURNS TABLE (tenant_id uuid, retention_days integer)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id, retention_days FROM tenant_policies WHERE retention_days IS NOT NULL
  ORDER BY tenant_id
$$;
REVOKE ALL ON FUNCTION penny_retention_policies() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_retention_policies() TO penny_app;
