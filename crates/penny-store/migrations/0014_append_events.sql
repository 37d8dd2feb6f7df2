-- Stores a batch of events for several conversations of tenant p_tenant (see
-- `events::append_many`): scopes the transaction to that tenant, bumps each
-- conversation's `last_seq` by its number of events and inserts the events numbered from
-- the old value, with `seq` written into each. Returns, per conversation that still
-- exists, the seq its events start after. Called on its own (autocommit), it stores a
-- whole batch in one round trip, commit included.
--
-- As a plain statement (an UPDATE ... FROM unnest(ids) joined to conversations), the
-- planner was free to read every conversation of the tenant and hash them, and did when
-- it thought the table small (a new database, a young tenant): a scan of the whole tenant
-- per batch. Here the join can only be a loop of primary-key lookups, whatever the
-- statistics say, and each event finds its conversation's first seq by its slot (its
-- conversation's place in p_ids) instead of by a join. Invoker's rights: row-level
-- security applies as usual.
CREATE FUNCTION penny_append_events(p_tenant uuid, p_ids uuid[], p_counts bigint[],
                                    p_slots integer[], p_places bigint[], p_events jsonb[])
  RETURNS TABLE (conv uuid, base bigint)
  LANGUAGE plpgsql
  SET enable_hashjoin = off SET enable_mergejoin = off
  SET enable_bitmapscan = off SET enable_seqscan = off
  AS $$
DECLARE
  v_bases bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_ids)]);
  r record;
BEGIN
  -- Like `Store::tenant`: until the end of this transaction (here, usually, the call's).
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  FOR r IN
    UPDATE conversations c SET last_seq = c.last_seq + b.n
      FROM unnest(p_ids, p_counts) WITH ORDINALITY AS b(id, n, slot)
     WHERE c.id = b.id
    RETURNING b.slot::integer AS slot, c.last_seq - b.n AS prior
  LOOP
    v_bases[r.slot] := r.prior;
  END LOOP;
  INSERT INTO conversation_events (tenant_id, conversation_id, seq, event)
  SELECT p_tenant, p_ids[e.slot], v_bases[e.slot] + e.k,
         e.ev || jsonb_build_object('seq', v_bases[e.slot] + e.k)
    FROM unnest(p_slots, p_places, p_events) AS e(slot, k, ev)
   WHERE v_bases[e.slot] IS NOT NULL;
  RETURN QUERY SELECT p_ids[i], v_bases[i] FROM generate_subscripts(p_ids, 1) AS i
                WHERE v_bases[i] IS NOT NULL;
END $$;
GRANT EXECUTE ON FUNCTION penny_append_events(uuid, uuid[], bigint[], integer[], bigint[], jsonb[]) TO penny_app;
