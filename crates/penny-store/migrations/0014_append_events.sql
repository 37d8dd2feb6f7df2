-- Stores a batch of events for several conversations of tenant p_tenant (see
-- `events::append_many`): scopes the transaction to that tenant, bumps each
-- conversation's `last_seq` by its number of events and inserts the events numbered from
-- the old value, with `seq` written into each. Returns, per conversation that still
-- exists, the seq its events start after. Called on its own (autocommit), it stores a
-- whole batch in one round trip, commit included.
--
-- As one statement (an UPDATE ... FROM unnest(ids) joined to conversations), the planner
-- was free to read every conversation of the tenant and hash them, and did: it cost a
-- scan of the whole tenant per batch. Here each conversation is one primary-key update,
-- whatever the statistics say. Invoker's rights: row-level security applies as usual.
CREATE FUNCTION penny_append_events(p_tenant uuid, p_ids uuid[], p_counts bigint[],
                                    p_convs uuid[], p_places bigint[], p_events jsonb[])
  RETURNS TABLE (conv uuid, base bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  v_found uuid[] := '{}';
  v_bases bigint[] := '{}';
  v_last  bigint;
BEGIN
  -- Like `Store::tenant`: until the end of this transaction (here, usually, the call's).
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
    UPDATE conversations SET last_seq = last_seq + p_counts[i] WHERE id = p_ids[i]
    RETURNING last_seq INTO v_last;
    IF FOUND THEN
      v_found := v_found || p_ids[i];
      v_bases := v_bases || (v_last - p_counts[i]);
    END IF;
  END LOOP;
  INSERT INTO conversation_events (tenant_id, conversation_id, seq, event)
  SELECT p_tenant, e.c, b.start + e.k, e.ev || jsonb_build_object('seq', b.start + e.k)
    FROM unnest(p_convs, p_places, p_events) AS e(c, k, ev)
    JOIN unnest(v_found, v_bases) AS b(c, start) ON b.c = e.c;
  RETURN QUERY SELECT * FROM unnest(v_found, v_bases);
END $$;
GRANT EXECUTE ON FUNCTION penny_append_events(uuid, uuid[], bigint[], uuid[], bigint[], jsonb[]) TO penny_app;
