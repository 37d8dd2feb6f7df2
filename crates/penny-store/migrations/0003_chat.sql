-- Chat: per-tenant model configurations, conversations with a message tree, runs (one
-- generation each) with a lease, and the conversation event log that clients resume from.

CREATE TABLE models (
  id                  uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id           uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name                text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$'),
  provider            text NOT NULL CHECK (provider IN ('openai', 'anthropic')),
  base_url            text NOT NULL,
  api_key_sealed      bytea,
  model               text NOT NULL,
  context_window      integer NOT NULL DEFAULT 8192 CHECK (context_window > 0),
  max_output_tokens   integer NOT NULL DEFAULT 1024 CHECK (max_output_tokens > 0),
  price_input_per_1k  double precision NOT NULL DEFAULT 0 CHECK (price_input_per_1k >= 0),
  price_output_per_1k double precision NOT NULL DEFAULT 0 CHECK (price_output_per_1k >= 0),
  is_default          boolean NOT NULL DEFAULT false,
  fallback            text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);
CREATE UNIQUE INDEX models_one_default ON models (tenant_id) WHERE is_default;

CREATE TABLE conversations (
  id            uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id       uuid NOT NULL,
  title         text NOT NULL DEFAULT 'New conversation' CHECK (length(title) <= 300),
  model         text,
  system_prompt text,
  archived      boolean NOT NULL DEFAULT false,
  current_leaf  uuid,
  last_seq      bigint NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX conversations_recent ON conversations (tenant_id, user_id, updated_at DESC);
CREATE INDEX conversations_title_trgm ON conversations USING gin (title gin_trgm_ops);

CREATE TABLE messages (
  id              uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id       uuid NOT NULL,
  conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  parent_id       uuid REFERENCES messages(id) ON DELETE CASCADE,
  role            text NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
  content         text NOT NULL DEFAULT '',
  status          text NOT NULL DEFAULT 'complete'
                  CHECK (status IN ('complete', 'streaming', 'cancelled', 'failed')),
  model           text,
  tool_calls      jsonb,
  tool_call_id    text,
  input_tokens    bigint,
  output_tokens   bigint,
  ttft_ms         integer,
  duration_ms     integer,
  cost            double precision,
  error_code      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);
CREATE INDEX messages_parent ON messages (parent_id);

CREATE TABLE runs (
  id                   uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id            uuid NOT NULL,
  conversation_id      uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  user_message_id      uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  assistant_message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  status               text NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'completed', 'cancelled', 'failed')),
  cancel_requested     boolean NOT NULL DEFAULT false,
  lease_owner          text NOT NULL,
  lease_expires_at     timestamptz NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz
);
-- One generation at a time per conversation.
CREATE UNIQUE INDEX runs_one_active ON runs (conversation_id) WHERE status = 'running';
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';

-- Every event a conversation's clients see, with a strictly increasing seq.
CREATE TABLE conversation_events (
  tenant_id       uuid NOT NULL,
  conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  seq             bigint NOT NULL,
  event           jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, seq)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['models', 'conversations', 'messages', 'runs', 'conversation_events'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = penny_current_tenant()) '
                   'WITH CHECK (tenant_id = penny_current_tenant())', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON models, conversations, messages, runs TO penny_app;
GRANT SELECT, INSERT, DELETE ON conversation_events TO penny_app;

-- The reaper finds runs whose instance died (lease expired) in every tenant; it learns
-- only their tenant and id, and finishes each under that tenant's RLS.
CREATE FUNCTION penny_expired_runs(p_limit integer) RETURNS TABLE (tenant_id uuid, run_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id, id FROM runs WHERE status = 'running' AND lease_expires_at < now()
  ORDER BY lease_expires_at LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION penny_expired_runs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_expired_runs(integer) TO penny_app;
