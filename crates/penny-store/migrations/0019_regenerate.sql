-- Regenerating an answer: a new answer to a question already asked, a sibling of the
-- answers it has. Before, the web app sent the question again, which made a sibling of the
-- question rather than of the answer. Like `penny_send_store` (0016) without the user
-- message: the streaming answer, the new leaf, the run and `run.started` with the next seq,
-- in one call. NULL: `p_question` is not a user message of the conversation.
CREATE FUNCTION penny_send_store_answer(p_tenant uuid, p_conversation uuid, p_question uuid,
                                        p_assistant_message uuid, p_run uuid, p_model text,
                                        p_owner text, p_lease_secs double precision,
                                        p_started jsonb)
  RETURNS bigint
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_seq bigint;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  WITH q AS (
      SELECT id FROM messages
       WHERE id = p_question AND conversation_id = p_conversation AND role = 'user'),
  a AS (
      INSERT INTO messages (id, tenant_id, conversation_id, parent_id, role, content, status, model)
      SELECT p_assistant_message, p_tenant, p_conversation, q.id, 'assistant', '', 'streaming', p_model FROM q
      RETURNING id),
  c AS (
      UPDATE conversations SET current_leaf = a.id, updated_at = now()
        FROM a WHERE conversations.id = p_conversation
      RETURNING conversations.id),
  s AS (
      UPDATE conversation_seqs SET last_seq = last_seq + 1
        FROM c WHERE conversation_seqs.conversation_id = c.id
      RETURNING last_seq),
  r AS (
      INSERT INTO runs (id, tenant_id, conversation_id, user_message_id, assistant_message_id,
                        lease_owner, lease_expires_at)
      SELECT p_run, p_tenant, p_conversation, p_question, a.id, p_owner,
             now() + make_interval(secs => p_lease_secs) FROM a
      RETURNING id),
  e AS (
      INSERT INTO conversation_events (tenant_id, conversation_id, seq, event)
      SELECT p_tenant, p_conversation, s.last_seq, p_started || jsonb_build_object('seq', s.last_seq)
        FROM s, r
      RETURNING seq)
  SELECT e.seq INTO v_seq FROM e;
  RETURN v_seq;
END $$;

GRANT EXECUTE ON FUNCTION penny_send_store_answer(uuid, uuid, uuid, uuid, uuid, text, text,
                                                  double precision, jsonb) TO penny_app;
