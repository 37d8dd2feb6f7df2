-- A send's reads at once: its target (`penny_send_target`), the branch it continues and
-- the tools it may offer are read together, each in one call on a connection of its own,
-- instead of one after another (the branch used to wait for the target's current leaf,
-- and the tools took a transaction of three round trips). Like the send functions of
-- 0016, these run as the caller and scope themselves to the tenant; called outside a
-- transaction, each is one round trip.

-- The branch of a follow-up that names no parent: the one that ends at the conversation's
-- current leaf, root first (read it `WITH ORDINALITY`); no row for a conversation without
-- messages. It does not check whose conversation it is: the send reads its target at the
-- same time, and a send whose target is not the caller's conversation is refused whatever
-- its branch holds.
CREATE FUNCTION penny_send_branch_current(p_tenant uuid, p_conversation uuid)
  RETURNS SETOF messages
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY
  SELECT b.* FROM conversations c
   CROSS JOIN LATERAL penny_send_branch(p_tenant, p_conversation, c.current_leaf) b
   WHERE c.id = p_conversation AND c.current_leaf IS NOT NULL;
END $$;

-- The tenant's tool settings (what the tools a message allows are offered under).
CREATE FUNCTION penny_tool_settings(p_tenant uuid)
  RETURNS SETOF tool_settings
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  RETURN QUERY SELECT * FROM tool_settings;
END $$;

GRANT EXECUTE ON FUNCTION penny_send_branch_current(uuid, uuid) TO penny_app;
GRANT EXECUTE ON FUNCTION penny_tool_settings(uuid) TO penny_app;
