-- The knowledge collections a user picked for a message: a snapshot ({id, name}) kept on
-- the user message, so a run (and a later regeneration of its answer) tells the model
-- which collections to search and `search_documents` searches them when the model names
-- none. Access is checked again by the search itself, on every call.
ALTER TABLE messages
  ADD COLUMN collections jsonb NOT NULL DEFAULT '[]'
  CHECK (jsonb_typeof(collections) = 'array' AND jsonb_array_length(collections) <= 20);

-- `penny_send_store` (0016) with the user message's collections.
DROP FUNCTION penny_send_store(uuid, uuid, uuid, uuid, uuid, uuid, text, jsonb, text, text, text,
                               double precision, jsonb);

CREATE FUNCTION penny_send_store(p_tenant uuid, p_conversation uuid, p_parent uuid,
                                 p_user_message uuid, p_assistant_message uuid, p_run uuid,
                                 p_content text, p_attachments jsonb, p_collections jsonb,
                                 p_model text, p_first_title text, p_owner text,
                                 p_lease_secs double precision, p_started jsonb)
  RETURNS bigint
  LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_seq bigint;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  WITH parent AS (
      SELECT p_parent IS NULL
          OR EXISTS (SELECT 1 FROM messages WHERE id = p_parent AND conversation_id = p_conversation) AS ok),
  u AS (
      INSERT INTO messages (id, tenant_id, conversation_id, parent_id, role, content, status,
                            attachments, collections)
      SELECT p_user_message, p_tenant, p_conversation, p_parent, 'user', p_content, 'complete',
             p_attachments, p_collections
        FROM parent WHERE ok
      RETURNING id),
  a AS (
      INSERT INTO messages (id, tenant_id, conversation_id, parent_id, role, content, status, model)
      SELECT p_assistant_message, p_tenant, p_conversation, u.id, 'assistant', '', 'streaming', p_model FROM u
      RETURNING id),
  c AS (
      UPDATE conversations SET current_leaf = a.id, updated_at = now(),
          title = CASE WHEN current_leaf IS NULL AND title = 'New conversation'
                       THEN p_first_title ELSE title END
        FROM a WHERE conversations.id = p_conversation
      RETURNING conversations.id),
  s AS (
      UPDATE conversation_seqs SET last_seq = last_seq + 1
        FROM c WHERE conversation_seqs.conversation_id = c.id
      RETURNING last_seq),
  r AS (
      INSERT INTO runs (id, tenant_id, conversation_id, user_message_id, assistant_message_id,
                        lease_owner, lease_expires_at)
      SELECT p_run, p_tenant, p_conversation, p_user_message, a.id, p_owner,
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

GRANT EXECUTE ON FUNCTION penny_send_store(uuid, uuid, uuid, uuid, uuid, uuid, text, jsonb, jsonb,
                                           text, text, text, double precision, jsonb) TO penny_app;
