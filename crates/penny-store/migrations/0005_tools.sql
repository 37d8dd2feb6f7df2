-- Tools and what they make: per-tenant tool settings (enabled, role grants), uploaded
-- files, and artifacts with versions. Bytes live in object storage; rows hold the key,
-- size and SHA-256 of each object.

-- Row-level security the same way on every tenant table (earlier migrations spell it out).
CREATE FUNCTION penny_enable_rls(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
  EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = penny_current_tenant()) '
                 'WITH CHECK (tenant_id = penny_current_tenant())', t);
END $$;
REVOKE ALL ON FUNCTION penny_enable_rls(regclass) FROM PUBLIC;

-- A tool with no row here has its built-in defaults: enabled, granted to its minimum role
-- and above.
CREATE TABLE tool_settings (
  tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  tool       text NOT NULL CHECK (tool ~ '^[a-z][a-z0-9_]{0,63}$'),
  enabled    boolean NOT NULL DEFAULT true,
  -- Roles that may use the tool; NULL means "the tool's minimum role and above".
  roles      text[] CHECK (roles <@ ARRAY['viewer', 'creator', 'manager', 'admin']),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, tool)
);

CREATE TABLE files (
  id         uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id    uuid NOT NULL,
  -- The client's name for the file: shown, never used in a path.
  filename   text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  mime       text NOT NULL,
  size       bigint NOT NULL CHECK (size >= 0),
  sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  object_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX files_recent ON files (tenant_id, user_id, created_at DESC);

CREATE TABLE artifacts (
  id              uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  conversation_id uuid REFERENCES conversations(id) ON DELETE CASCADE,
  message_id      uuid REFERENCES messages(id) ON DELETE SET NULL,
  job_id          uuid,
  created_by      uuid,
  type            text NOT NULL CHECK (type IN ('markdown', 'table', 'chart', 'vega-lite', 'mermaid',
                                                'code', 'document', 'image', 'dashboard', 'file')),
  title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  latest_version  integer NOT NULL DEFAULT 1 CHECK (latest_version >= 1),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_conversation ON artifacts (conversation_id, created_at);

CREATE TABLE artifact_versions (
  tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  artifact_id uuid NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
  version     integer NOT NULL CHECK (version >= 1),
  mime        text NOT NULL,
  size        bigint NOT NULL CHECK (size >= 0),
  sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  object_key  text NOT NULL,
  created_by  uuid,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (artifact_id, version)
);

SELECT penny_enable_rls(t)
FROM unnest(ARRAY['tool_settings', 'files', 'artifacts', 'artifact_versions']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE, DELETE ON tool_settings, files, artifacts TO penny_app;
GRANT SELECT, INSERT ON artifact_versions TO penny_app;
