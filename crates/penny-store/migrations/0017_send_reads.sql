-- A send's reads in one call, and the tool settings in one call: before, a follow-up read
-- its target, then its branch (which needed the target's current leaf), and a message
-- that allows tools read the tenant's tool settings in a transaction of three round trips.
-- Now `penny_send_read` returns the target with the branch, and the tool settings are read
-- at the same time by `penny_tool_settings`. Like the send functions of 0016, these run as
-- the caller and scope themselves to the tenant; called outside a transaction, each is
-- one round trip.

-- `penny_send_target` with the branch the message continues, root first, as a JSON array
-- of messages: the branch that ends at `p_parent`, or at the conversation's current leaf
-- when `p_below_leaf`; empty for a new first message. An empty branch for a `p_parent`
-- means it is not a message of the conversation. No row: not the caller's conversation.
CREATE FUNCTION penny_send_read(p_tenant uuid, p_user uuid, p_conversation uuid, p_model text,
                                p_parent uuid, p_below_leaf boolean)
  RETURNS TABLE (system_prompt text, wanted text,
                 m_id uuid, m_name text, m_provider text, m_base_url text,
                 m_api_key_sealed bytea, m_model text, m_context_window integer,
                 m_max_output_tokens integer, m_price_input_per_1k double precision,
                 m_price_output_per_1k double precision, m_is_default boolean,
                 m_fallback text, m_created_at timestamptz, m_updated_at timestamptz,
                 grant_roles text[], cap integer, tenant_prompt text, busy boolean,
                 branch jsonb)
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY
  SELECT t.system_prompt, t.wanted, t.m_id, t.m_name, t.m_provider, t.m_base_url,
         t.m_api_key_sealed, t.m_model, t.m_context_window, t.m_max_output_tokens,
         t.m_price_input_per_1k, t.m_price_output_per_1k, t.m_is_default, t.m_fallback,
         t.m_created_at, t.m_updated_at, t.grant_roles, t.cap, t.tenant_prompt, t.busy,
         CASE WHEN l.leaf IS NULL THEN '[]'::jsonb  -- a first message: nothing to read
              ELSE coalesce((SELECT jsonb_agg(to_jsonb(b) ORDER BY b.ordinality)
                               FROM penny_send_branch(p_tenant, p_conversation, l.leaf)
                                    WITH ORDINALITY AS b), '[]'::jsonb) END
    FROM penny_send_target(p_tenant, p_user, p_conversation, p_model) AS t
   CROSS JOIN LATERAL (SELECT CASE WHEN p_below_leaf THEN t.current_leaf ELSE p_parent END) AS l(leaf);
END $$;

-- The tenant's tool settings (what the tools a message allows are offered under).
CREATE FUNCTION penny_tool_settings(p_tenant uuid)
  RETURNS SETOF tool_settings
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY SELECT * FROM tool_settings;
END $$;

GRANT EXECUTE ON FUNCTION penny_send_read(uuid, uuid, uuid, text, uuid, boolean) TO penny_app;
GRANT EXECUTE ON FUNCTION penny_tool_settings(uuid) TO penny_app;
