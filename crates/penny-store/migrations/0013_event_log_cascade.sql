-- Stored events no longer carry a foreign key to their conversation. The key checked
-- every stored event with a query of its own (a trigger per row: most of a batch's
-- insert), while every statement that stores events already updates the conversation's
-- row (`last_seq`) first: a conversation that is gone stores nothing, and one being
-- deleted waits for that row lock. What the key still did, deleting a conversation's
-- events with it, one trigger per statement does here. It is SECURITY DEFINER because a
-- conversation can go by cascade from a tenant deleted by a super-admin whose own tenant
-- scope would hide that tenant's events.
ALTER TABLE conversation_events DROP CONSTRAINT conversation_events_conversation_id_fkey;

CREATE FUNCTION penny_delete_conversation_events() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  DELETE FROM conversation_events e USING gone WHERE e.conversation_id = gone.id;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION penny_delete_conversation_events() FROM PUBLIC;

CREATE TRIGGER conversation_events_follow AFTER DELETE ON conversations
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION penny_delete_conversation_events();
