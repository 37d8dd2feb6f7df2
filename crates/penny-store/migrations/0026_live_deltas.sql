-- Live deltas leave the database. While a run lives it numbers its conversation's events
-- itself: deltas (and tool progress) are published at once and kept only in the bus's
-- live log; what is stored (tool calls and results, artifacts, checkpoints of the answer's
-- text, the run's end) is stored with the seq the run gave it.
--
-- So that anyone else who numbers an event of the conversation (the reaper, after the
-- run's instance died) numbers it past anything the run may have published, a run holds a
-- reservation: `reserved_seq`, the highest seq it may publish. The run raises it ahead of
-- need with the events it stores, and its end clears it.
ALTER TABLE conversation_seqs ADD COLUMN reserved_seq bigint NOT NULL DEFAULT 0;

-- A run's first reservation, taken with the run: 1024 seqs past its `run.started` (an
-- AFTER trigger runs when the send's statement is done, so `last_seq` is that event's).
CREATE FUNCTION penny_reserve_run_seqs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE conversation_seqs SET reserved_seq = GREATEST(reserved_seq, last_seq + 1024)
   WHERE conversation_id = NEW.conversation_id;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_reserve_seqs AFTER INSERT ON runs
  FOR EACH ROW EXECUTE FUNCTION penny_reserve_run_seqs();

-- As in 0015, numbering past any reservation.
CREATE OR REPLACE FUNCTION penny_append_events(p_tenant uuid, p_ids uuid[], p_counts bigint[],
                                               p_slots integer[], p_places bigint[], p_events jsonb[])
  RETURNS TABLE (conv uuid, base bigint)
  LANGUAGE plpgsql
  SET enable_hashjoin = off SET enable_mergejoin = off
  SET enable_bitmapscan = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan
  AS $$
DECLARE
  v_bases bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_ids)]);
  r record;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  FOR r IN
    UPDATE conversation_seqs s SET last_seq = GREATEST(s.last_seq, s.reserved_seq) + b.n
      FROM unnest(p_ids, p_counts) WITH ORDINALITY AS b(id, n, slot)
     WHERE s.conversation_id = b.id
    RETURNING b.slot::integer AS slot, s.last_seq - b.n AS prior
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

-- What runs store, for several conversations of one tenant in one call (the shared
-- writer's batches; it commits on its own). Per conversation (`p_ids`): the highest seq
-- stored (`p_top`), the reservation to raise to (`p_reserve`), the stored checkpoint this
-- batch's checkpoint replaces (`p_replace`, 0 for none: consecutive checkpoints of one
-- answer keep only the newest) and the answer's text so far (`p_messages`, `p_contents`;
-- NULL for no change). Events come numbered (`seq` in each), `p_slots` saying whose.
-- Returns the conversations that exist: the counter row is updated first, so a deleted
-- conversation stores nothing.
CREATE FUNCTION penny_put_events(p_tenant uuid, p_ids uuid[], p_top bigint[], p_reserve bigint[],
                                 p_replace bigint[], p_messages uuid[], p_contents text[],
                                 p_slots integer[], p_events jsonb[])
  RETURNS SETOF uuid
  LANGUAGE plpgsql
  SET enable_hashjoin = off SET enable_mergejoin = off
  SET enable_bitmapscan = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan
  AS $$
DECLARE
  v_found uuid[];
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  WITH u AS (
      UPDATE conversation_seqs s SET last_seq = GREATEST(s.last_seq, b.top),
                                     reserved_seq = GREATEST(s.reserved_seq, b.reserve)
        FROM unnest(p_ids, p_top, p_reserve) AS b(id, top, reserve)
       WHERE s.conversation_id = b.id
      RETURNING s.conversation_id)
  SELECT coalesce(array_agg(conversation_id), '{}') INTO v_found FROM u;
  DELETE FROM conversation_events e USING unnest(p_ids, p_replace) AS r(id, seq)
   WHERE r.seq > 0 AND r.id = ANY (v_found) AND e.conversation_id = r.id AND e.seq = r.seq;
  INSERT INTO conversation_events (tenant_id, conversation_id, seq, event)
  SELECT p_tenant, p_ids[e.slot], (e.ev->>'seq')::bigint, e.ev
    FROM unnest(p_slots, p_events) AS e(slot, ev)
   WHERE p_ids[e.slot] = ANY (v_found);
  UPDATE messages m SET content = c.content
    FROM unnest(p_ids, p_messages, p_contents) AS c(conv, id, content)
   WHERE c.content IS NOT NULL AND c.conv = ANY (v_found) AND m.id = c.id
     AND m.status = 'streaming';
  RETURN QUERY SELECT unnest(v_found);
END $$;

-- Events an API tool job adds to a conversation while a run lives there wait here, and
-- follow the run's end (numbered by it), so they never cut into the run's own numbering.
CREATE TABLE run_inbox (
  id         bigserial PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  run_id     uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  events     jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_inbox_run ON run_inbox (run_id);
ALTER TABLE run_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON run_inbox
  USING (tenant_id = penny_current_tenant())
  WITH CHECK (tenant_id = penny_current_tenant());
GRANT SELECT, INSERT, DELETE ON run_inbox TO penny_app;
GRANT USAGE ON SEQUENCE run_inbox_id_seq TO penny_app;

-- The end of a run, as `penny_end_run` (0016) with the answer's last checkpoint (`p_text`,
-- numbered by the run, replacing the stored checkpoint `p_replace` unless 0) and several
-- final events: numbered from `p_seq` (the run numbered everything before them) or, when
-- NULL (the reaper), past anything the run reserved; the events waiting in the run's inbox
-- follow them. The reservation is cleared. Returns the stored events; none when the run had already ended
-- or its conversation is gone.
CREATE FUNCTION penny_finish_run(p_tenant uuid, p_conversation uuid, p_run uuid, p_run_status text,
                                 p_message uuid, p_content text, p_status text, p_model text,
                                 p_input_tokens bigint, p_output_tokens bigint, p_ttft_ms integer,
                                 p_duration_ms integer, p_cost double precision, p_error_code text,
                                 p_tool_calls jsonb, p_events jsonb[], p_seq bigint,
                                 p_text jsonb, p_replace bigint)
  RETURNS SETOF jsonb
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_events jsonb[];
  v_first bigint;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  UPDATE runs SET status = p_run_status, finished_at = now()
   WHERE id = p_run AND status = 'running';
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE messages SET content = p_content, status = p_status, model = coalesce(p_model, model),
         input_tokens = p_input_tokens, output_tokens = p_output_tokens, ttft_ms = p_ttft_ms,
         duration_ms = p_duration_ms, cost = p_cost, error_code = p_error_code,
         tool_calls = p_tool_calls
   WHERE id = p_message;
  WITH waiting AS (DELETE FROM run_inbox WHERE run_id = p_run RETURNING id, events)
  SELECT p_events || coalesce(array_agg(x.ev ORDER BY w.id, x.k), '{}')
    INTO v_events
    FROM waiting w CROSS JOIN LATERAL jsonb_array_elements(w.events) WITH ORDINALITY AS x(ev, k);
  UPDATE conversation_seqs
     SET last_seq = coalesce(p_seq - 1, GREATEST(last_seq, reserved_seq)) + cardinality(v_events),
         reserved_seq = 0
   WHERE conversation_id = p_conversation
  RETURNING last_seq - cardinality(v_events) + 1 INTO v_first;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF p_text IS NOT NULL THEN
    DELETE FROM conversation_events
     WHERE p_replace > 0 AND conversation_id = p_conversation AND seq = p_replace;
    INSERT INTO conversation_events (tenant_id, conversation_id, seq, event)
    VALUES (p_tenant, p_conversation, (p_text->>'seq')::bigint, p_text);
  END IF;
  RETURN QUERY
  INSERT INTO conversation_events (tenant_id, conversation_id, seq, event)
  SELECT p_tenant, p_conversation, v_first + e.k - 1, e.ev || jsonb_build_object('seq', v_first + e.k - 1)
    FROM unnest(v_events) WITH ORDINALITY AS e(ev, k)
  RETURNING event;
  INSERT INTO run_facts (tenant_id, fact) SELECT f.tenant_id, f FROM penny_run_facts(ARRAY[p_run]) AS f;
END $$;

GRANT EXECUTE ON FUNCTION penny_put_events(uuid, uuid[], bigint[], bigint[], bigint[], uuid[],
                                           text[], integer[], jsonb[]) TO penny_app;
GRANT EXECUTE ON FUNCTION penny_finish_run(uuid, uuid, uuid, text, uuid, text, text, text, bigint,
                                           bigint, integer, integer, double precision, text, jsonb,
                                           jsonb[], bigint, jsonb, bigint) TO penny_app;
