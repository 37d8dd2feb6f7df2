-- First-run set-up: while tenant `default` has no admin, one set-up token lets the browser
-- create that admin. A platform table (not tenant-owned) with at most one row, holding
-- only the token's SHA-256. The application role has no grant on it: three narrow
-- definer functions replace, check and consume the token, and none returns the digest.

CREATE TABLE setup_tokens (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Replaces the token (every start while there is no admin prints a fresh link);
-- NULL only removes it (an admin exists).
CREATE FUNCTION penny_setup_issue(p_hash bytea) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM setup_tokens;
  INSERT INTO setup_tokens (token_hash) SELECT p_hash WHERE p_hash IS NOT NULL;
$$;

CREATE FUNCTION penny_setup_check(p_hash bytea) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = p_hash)
$$;

-- Removes the token when it matches; true when it did. A concurrent use of the same
-- token waits on the row and then finds nothing.
CREATE FUNCTION penny_setup_consume(p_hash bytea) RETURNS boolean
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH gone AS (DELETE FROM setup_tokens WHERE token_hash = p_hash RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM gone)
$$;

REVOKE ALL ON TABLE setup_tokens FROM PUBLIC;
REVOKE ALL ON FUNCTION penny_setup_issue(bytea), penny_setup_check(bytea),
  penny_setup_consume(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_setup_issue(bytea), penny_setup_check(bytea),
  penny_setup_consume(bytea) TO penny_app;
