-- Embedding models: a tenant's model is a chat model (the default) or an embedding model
-- (an OpenAI-compatible `/embeddings` endpoint, its key sealed like a chat model's) of a
-- stated size. An embedding model never answers messages: it cannot be the default or a
-- fallback, and a send naming one is refused (`penny_send_target` returns the kind). The
-- names `local/...` are the server's own models, so no tenant model takes one.
ALTER TABLE models
  ADD COLUMN kind text NOT NULL DEFAULT 'chat' CHECK (kind IN ('chat', 'embedding')),
  ADD COLUMN dimensions integer CHECK (dimensions BETWEEN 1 AND 2000),
  ADD CONSTRAINT models_kind_shape CHECK (CASE kind
    WHEN 'embedding' THEN dimensions IS NOT NULL AND provider = 'openai' AND NOT is_default
                          AND fallback IS NULL AND name NOT LIKE 'local/%'
    ELSE dimensions IS NULL END);

-- Which vectors a search may compare with a query. A collection's epoch goes up each
-- time its embedding model changes (and every document is ingested again, in the same
-- transaction); a document's is the epoch its ready version was embedded in. Until a
-- document's new version is ready, its old passages stay found by their keywords, but
-- the vector ranking only takes passages whose document's epoch is its collection's.
ALTER TABLE collections ADD COLUMN embedding_epoch integer NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN embedding_epoch integer NOT NULL DEFAULT 0;

-- `penny_send_target` (0016) and `penny_send_read` (0017) with the model's kind.
DROP FUNCTION penny_send_read(uuid, uuid, uuid, text, uuid, boolean);
DROP FUNCTION penny_send_target(uuid, uuid, uuid, text);

CREATE FUNCTION penny_send_target(p_tenant uuid, p_user uuid, p_conversation uuid, p_model text)
  RETURNS TABLE (system_prompt text, current_leaf uuid, wanted text,
                 m_id uuid, m_name text, m_provider text, m_base_url text,
                 m_api_key_sealed bytea, m_model text, m_context_window integer,
                 m_max_output_tokens integer, m_price_input_per_1k double precision,
                 m_price_output_per_1k double precision, m_is_default boolean,
                 m_fallback text, m_created_at timestamptz, m_updated_at timestamptz,
                 m_kind text, grant_roles text[], cap integer, tenant_prompt text, busy boolean)
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY
  SELECT c.system_prompt, c.current_leaf, coalesce(p_model, c.model),
         m.id, m.name, m.provider, m.base_url, m.api_key_sealed, m.model,
         m.context_window, m.max_output_tokens, m.price_input_per_1k,
         m.price_output_per_1k, m.is_default, m.fallback, m.created_at, m.updated_at,
         m.kind, g.roles, p.max_tokens_per_message, p.system_prompt,
         EXISTS (SELECT 1 FROM runs r WHERE r.conversation_id = c.id AND r.status = 'running')
    FROM conversations c
    LEFT JOIN LATERAL (
        SELECT * FROM models mm
         WHERE CASE WHEN coalesce(p_model, c.model) IS NULL THEN mm.is_default
                    ELSE mm.name = coalesce(p_model, c.model) END
         LIMIT 1) m ON true
    LEFT JOIN model_grants g ON g.model_id = m.id
    LEFT JOIN tenant_policies p ON true
   WHERE c.id = p_conversation AND c.user_id = p_user;
END $$;

CREATE FUNCTION penny_send_read(p_tenant uuid, p_user uuid, p_conversation uuid, p_model text,
                                p_parent uuid, p_below_leaf boolean)
  RETURNS TABLE (system_prompt text, wanted text,
                 m_id uuid, m_name text, m_provider text, m_base_url text,
                 m_api_key_sealed bytea, m_model text, m_context_window integer,
                 m_max_output_tokens integer, m_price_input_per_1k double precision,
                 m_price_output_per_1k double precision, m_is_default boolean,
                 m_fallback text, m_created_at timestamptz, m_updated_at timestamptz,
                 m_kind text, grant_roles text[], cap integer, tenant_prompt text, busy boolean,
                 branch jsonb)
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY
  SELECT t.system_prompt, t.wanted, t.m_id, t.m_name, t.m_provider, t.m_base_url,
         t.m_api_key_sealed, t.m_model, t.m_context_window, t.m_max_output_tokens,
         t.m_price_input_per_1k, t.m_price_output_per_1k, t.m_is_default, t.m_fallback,
         t.m_created_at, t.m_updated_at, t.m_kind, t.grant_roles, t.cap, t.tenant_prompt,
         t.busy,
         CASE WHEN l.leaf IS NULL THEN '[]'::jsonb  -- a first message: nothing to read
              ELSE coalesce((SELECT jsonb_agg(to_jsonb(b) ORDER BY b.ordinality)
                               FROM penny_send_branch(p_tenant, p_conversation, l.leaf)
                                    WITH ORDINALITY AS b), '[]'::jsonb) END
    FROM penny_send_target(p_tenant, p_user, p_conversation, p_model) AS t
   CROSS JOIN LATERAL (SELECT CASE WHEN p_below_leaf THEN t.current_leaf ELSE p_parent END) AS l(leaf);
END $$;

GRANT EXECUTE ON FUNCTION penny_send_target(uuid, uuid, uuid, text) TO penny_app;
GRANT EXECUTE ON FUNCTION penny_send_read(uuid, uuid, uuid, text, uuid, boolean) TO penny_app;
