-- Daily cleanup (the seed's scheduled maintenance): refresh sessions that ended long ago
-- carry no information worth keeping. Runs across tenants, so it is a definer function
-- with one narrow job rather than a bypass of row-level security for the application.
CREATE FUNCTION penny_purge_sessions(p_older_than interval) RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH gone AS (
    DELETE FROM refresh_sessions
     WHERE coalesce(revoked_at, expires_at) < now() - p_older_than
        OR (used_at IS NOT NULL AND used_at < now() - p_older_than AND expires_at < now())
    RETURNING 1)
  SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION penny_purge_sessions(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_purge_sessions(interval) TO penny_app;
