-- Foundation: tenants, users, memberships, API keys, refresh sessions, audit log.
-- Every tenant-owned table has row-level security, enabled and forced; the application
-- runs as `penny_app` (not a superuser, no BYPASSRLS) and sets `app.tenant_id` per
-- transaction.

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS vector;

-- Roles are cluster-wide: several databases (or concurrent migrations) may race here.
DO $$
BEGIN
  CREATE ROLE penny_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, 'penny_app', 'MEMBER') THEN
    EXECUTE format('GRANT penny_app TO %I', current_user);
  END IF;
END $$;

GRANT USAGE ON SCHEMA public TO penny_app;

-- The tenant of the current transaction, or NULL when none is set (then RLS shows nothing).
CREATE FUNCTION penny_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
  id          uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  rate_limit_per_minute integer CHECK (rate_limit_per_minute > 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- A platform table (not tenant-owned): the super-admin lists every tenant.
GRANT SELECT, INSERT, UPDATE ON tenants TO penny_app;

CREATE TABLE users (
  id             uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email          text NOT NULL CHECK (email = lower(email)),
  password_hash  text,
  display_name   text,
  is_super_admin boolean NOT NULL DEFAULT false,
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, email),
  UNIQUE (tenant_id, id)
);

CREATE TABLE memberships (
  tenant_id  uuid NOT NULL,
  user_id    uuid NOT NULL,
  role       text NOT NULL CHECK (role IN ('admin', 'manager', 'creator', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id    uuid NOT NULL,
  user_id      uuid NOT NULL,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  prefix       text NOT NULL,
  key_hash     bytea NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at   timestamptz,
  revoked_at   timestamptz,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_keys_user ON api_keys (tenant_id, user_id);

-- One row per refresh token. A family is one login; each refresh marks its row used and
-- adds the next. Presenting a used token again revokes the whole family (theft signal).
CREATE TABLE refresh_sessions (
  id          uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id   uuid NOT NULL,
  user_id     uuid NOT NULL,
  family_id   uuid NOT NULL,
  token_hash  bytea NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz,
  ip          text,
  user_agent  text,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_sessions_family ON refresh_sessions (tenant_id, family_id);

-- Append-only, hash-chained per tenant: each row's hash covers the previous row's hash
-- and this row's content, so a changed or deleted row breaks the chain.
CREATE TABLE audit_log (
  id             bigint PRIMARY KEY,
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  actor_user_id  uuid,
  action         text NOT NULL,
  target_type    text,
  target_id      text,
  ip             text,
  user_agent     text,
  payload_sha256 bytea,
  details        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  prev_hash      bytea NOT NULL,
  hash           bytea NOT NULL
);
CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);

CREATE FUNCTION audit_canonical(a audit_log) RETURNS bytea
  LANGUAGE sql IMMUTABLE AS $$
  SELECT convert_to(concat_ws(E'\x1f', a.id::text, a.tenant_id::text,
      coalesce(a.actor_user_id::text, ''), a.action, coalesce(a.target_type, ''),
      coalesce(a.target_id, ''), coalesce(a.ip, ''), coalesce(a.user_agent, ''),
      coalesce(encode(a.payload_sha256, 'hex'), ''), a.details::text,
      extract(epoch FROM a.created_at)::text), 'UTF8')
$$;

CREATE FUNCTION audit_chain() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  last bytea;
BEGIN
  -- Serialise appends per tenant so ids and the chain agree on one order.
  PERFORM pg_advisory_xact_lock(hashtextextended('penny.audit.' || NEW.tenant_id::text, 0));
  NEW.id := nextval('audit_log_id_seq');
  SELECT hash INTO last FROM audit_log WHERE tenant_id = NEW.tenant_id ORDER BY id DESC LIMIT 1;
  NEW.prev_hash := coalesce(last, '\x'::bytea);
  NEW.hash := sha256(NEW.prev_hash || audit_canonical(NEW));
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain();

CREATE FUNCTION audit_append_only() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- Row-level security on every tenant-owned table.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'memberships', 'api_keys', 'refresh_sessions', 'audit_log'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = penny_current_tenant()) '
                   'WITH CHECK (tenant_id = penny_current_tenant())', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON users, memberships, api_keys, refresh_sessions TO penny_app;
GRANT SELECT, INSERT ON audit_log TO penny_app;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO penny_app;

-- Bearer credentials arrive before the tenant is known. These two functions (owned by
-- the migrating role) map a credential digest to its tenant and nothing more; the rest
-- of the lookup then runs under that tenant's RLS.
CREATE FUNCTION penny_api_key_tenant(p_hash bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id FROM api_keys WHERE key_hash = p_hash
$$;
CREATE FUNCTION penny_refresh_tenant(p_hash bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id FROM refresh_sessions WHERE token_hash = p_hash
$$;
REVOKE ALL ON FUNCTION penny_api_key_tenant(bytea), penny_refresh_tenant(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_api_key_tenant(bytea), penny_refresh_tenant(bytea) TO penny_app;
