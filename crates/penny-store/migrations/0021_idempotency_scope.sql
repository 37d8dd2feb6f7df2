-- An idempotency key belongs to the person who sent it and to the tool it names: a key is
-- unique per (tenant, queue, creator, job name), so another user's key (or the same key
-- for another tool) never returns their job. A job without a creator (the system's)
-- counts as one creator of its own (NULLS NOT DISTINCT).
DROP INDEX jobs_idempotency;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, queue, created_by, name, idempotency_key)
  NULLS NOT DISTINCT WHERE idempotency_key IS NOT NULL;
