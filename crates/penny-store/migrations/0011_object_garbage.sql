-- Objects whose rows are gone. Deleting an artifact version or an upload (directly, or by
-- cascade when a conversation, user or tenant goes, or by the retention sweep) queues its
-- object here in the same transaction; the scheduler deletes the queued objects from
-- storage. A platform table: penny_app reaches it only through the functions below.
CREATE TABLE object_garbage (
  id         bigserial PRIMARY KEY,
  bucket     text NOT NULL CHECK (bucket IN ('penny-artifacts', 'penny-uploads', 'penny-exports', 'penny-backups')),
  object_key text NOT NULL,
  queued_at  timestamptz NOT NULL DEFAULT now(),
  attempts   integer NOT NULL DEFAULT 0
);

CREATE FUNCTION penny_queue_object_garbage() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO object_garbage (bucket, object_key) VALUES (TG_ARGV[0], OLD.object_key);
  RETURN OLD;
END $$;
REVOKE ALL ON FUNCTION penny_queue_object_garbage() FROM PUBLIC;

CREATE TRIGGER artifact_versions_object_garbage AFTER DELETE ON artifact_versions
  FOR EACH ROW EXECUTE FUNCTION penny_queue_object_garbage('penny-artifacts');
CREATE TRIGGER files_object_garbage AFTER DELETE ON files
  FOR EACH ROW EXECUTE FUNCTION penny_queue_object_garbage('penny-uploads');

-- Takes up to p_limit queued objects (oldest first; rows another sweep holds are skipped).
-- The rows are deleted in the caller's transaction: if the sweep dies before it commits,
-- they are queued again.
CREATE FUNCTION penny_take_object_garbage(p_limit integer)
  RETURNS TABLE (bucket text, object_key text)
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM object_garbage WHERE id IN (
    SELECT id FROM object_garbage ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED)
  RETURNING bucket, object_key
$$;
REVOKE ALL ON FUNCTION penny_take_object_garbage(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_take_object_garbage(integer) TO penny_app;

-- Puts back an object whose deletion failed (the next sweep tries again).
CREATE FUNCTION penny_requeue_object_garbage(p_bucket text, p_key text) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO object_garbage (bucket, object_key, attempts) VALUES (p_bucket, p_key, 1)
$$;
REVOKE ALL ON FUNCTION penny_requeue_object_garbage(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_requeue_object_garbage(text, text) TO penny_app;
