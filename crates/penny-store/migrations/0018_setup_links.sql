-- Several set-up links at once. Every start that serves the web app while tenant `default`
-- has no admin prints a set-up link. With one token row, each start replaced the token of
-- the one before: when several API replicas started together, only the link printed last
-- worked, and an operator reading another replica's log got "invalid token". Now each
-- start adds its own token; the 16 most recent stay valid, and creating the first admin
-- (in the browser or from the configuration) removes them all.

ALTER TABLE setup_tokens DROP CONSTRAINT setup_tokens_pkey;
ALTER TABLE setup_tokens DROP COLUMN singleton;
ALTER TABLE setup_tokens ADD PRIMARY KEY (token_hash);

-- Adds a token and forgets all but the 16 most recent; NULL removes every token (an
-- admin exists).
CREATE OR REPLACE FUNCTION penny_setup_issue(p_hash bytea) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM setup_tokens WHERE p_hash IS NULL;
  INSERT INTO setup_tokens (token_hash) SELECT p_hash WHERE p_hash IS NOT NULL;
  DELETE FROM setup_tokens WHERE token_hash NOT IN
    (SELECT token_hash FROM setup_tokens ORDER BY created_at DESC, token_hash LIMIT 16);
$$;

-- Uses up the set-up: when p_hash is one of the tokens, removes every token and returns
-- true. Set-ups are serialised by an advisory lock (`setup::lock`); a concurrent use of a
-- token still waits on its row and then finds nothing.
CREATE OR REPLACE FUNCTION penny_setup_consume(p_hash bytea) RETURNS boolean
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH used AS (DELETE FROM setup_tokens WHERE token_hash = p_hash RETURNING 1),
       rest AS (DELETE FROM setup_tokens WHERE token_hash <> p_hash
                   AND EXISTS (SELECT 1 FROM used))
  SELECT EXISTS (SELECT 1 FROM used)
$$;
