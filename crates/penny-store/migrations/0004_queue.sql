-- The job queue (penny-queue): durable jobs in PostgreSQL instead of Redis, whose
-- allkeys-lru policy could evict them. A job is inserted in the same transaction as the
-- row that asks for it; workers claim with FOR UPDATE SKIP LOCKED under a lease, and only
-- the holder of the current lease (`lease_token`) can finish a job.

CREATE TABLE jobs (
  id               uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  queue            text NOT NULL CHECK (queue ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- `delayed` jobs are claimable once run_at has passed (they read as `waiting` then).
  status           text NOT NULL
                   CHECK (status IN ('waiting', 'active', 'completed', 'failed', 'delayed')),
  progress         jsonb,
  result           jsonb,
  error            text,
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
  timeout_ms       integer NOT NULL CHECK (timeout_ms > 0),
  run_at           timestamptz NOT NULL DEFAULT now(),
  -- Fencing: a fresh random token per claim. Finishing, heartbeats and progress must
  -- present it, so a worker whose lease was taken over cannot write.
  lease_token      uuid,
  lease_expires_at timestamptz,
  idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  conversation_id  uuid,
  created_by       uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  CHECK ((status = 'active') = (lease_token IS NOT NULL))
);
CREATE INDEX jobs_ready ON jobs (queue, run_at) WHERE status IN ('waiting', 'delayed');
CREATE INDEX jobs_lease ON jobs (queue, lease_expires_at) WHERE status = 'active';
CREATE INDEX jobs_by_status ON jobs (tenant_id, queue, status);
CREATE INDEX jobs_conversation ON jobs (tenant_id, conversation_id) WHERE conversation_id IS NOT NULL;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, queue, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- A hot table: most rows are updated twice and deleted soon; vacuum it early.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['jobs'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = penny_current_tenant()) '
                   'WITH CHECK (tenant_id = penny_current_tenant())', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON jobs TO penny_app;

-- Wake-ups, sent at commit (NOTIFY is transactional): `penny_job_ready` carries the queue
-- name when a job becomes claimable now, `penny_job_done` the id of a job that ended.
CREATE FUNCTION penny_jobs_notify() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'waiting' THEN
    PERFORM pg_notify('penny_job_ready', NEW.queue);
  ELSE
    PERFORM pg_notify('penny_job_done', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs FOR EACH ROW
  WHEN (NEW.status = 'waiting') EXECUTE FUNCTION penny_jobs_notify();
CREATE TRIGGER jobs_notify_update AFTER UPDATE OF status ON jobs FOR EACH ROW
  WHEN (NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('waiting', 'completed', 'failed'))
  EXECUTE FUNCTION penny_jobs_notify();

-- The global rate limiter: one token bucket per queue, shared by every worker process.
-- Platform state (no tenant data); only the claim function touches it.
CREATE TABLE job_queue_limits (
  queue        text PRIMARY KEY,
  tokens       double precision NOT NULL,
  refreshed_at timestamptz NOT NULL
);

-- Workers serve every tenant, so claiming and lease upkeep are definer functions with one
-- narrow job each. Claiming returns what a worker needs to run the job; the others act
-- only on jobs whose random lease token the caller presents, or on expired leases.

-- Claims up to p_limit claimable jobs of p_queue (oldest run_at first), each under a new
-- lease. With p_rate set, at most that many jobs per second leave the queue across all
-- callers (bucket capacity: one second's worth, at least 1). When the limiter alone holds
-- jobs back, one row with a NULL id and retry_after_ms says when a token is due.
CREATE FUNCTION penny_queue_claim(p_queue text, p_limit integer, p_lease_ms integer,
                                  p_rate double precision)
  RETURNS TABLE (id uuid, tenant_id uuid, name text, payload jsonb, attempts integer,
                 max_attempts integer, timeout_ms integer, run_at timestamptz,
                 idempotency_key text, conversation_id uuid, created_by uuid,
                 created_at timestamptz, started_at timestamptz, lease_token uuid,
                 retry_after_ms integer)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_now    timestamptz := clock_timestamp();
  v_limit  integer := p_limit;
  v_cap    double precision;
  v_tokens double precision;
  v_taken  integer;
BEGIN
  IF p_rate IS NOT NULL THEN
    v_cap := greatest(p_rate, 1);
    INSERT INTO job_queue_limits AS l (queue, tokens, refreshed_at)
      VALUES (p_queue, v_cap, v_now) ON CONFLICT (queue) DO NOTHING;
    SELECT least(v_cap, l.tokens + p_rate * extract(epoch FROM v_now - l.refreshed_at))
      INTO v_tokens FROM job_queue_limits l WHERE l.queue = p_queue FOR UPDATE;
    v_limit := least(p_limit, floor(v_tokens)::integer);
    IF v_limit < 1 THEN
      IF EXISTS (SELECT 1 FROM jobs j WHERE j.queue = p_queue
                   AND j.status IN ('waiting', 'delayed') AND j.run_at <= now()) THEN
        RETURN QUERY SELECT NULL::uuid, NULL::uuid, NULL::text, NULL::jsonb, NULL::integer,
          NULL::integer, NULL::integer, NULL::timestamptz, NULL::text, NULL::uuid, NULL::uuid,
          NULL::timestamptz, NULL::timestamptz, NULL::uuid,
          ceil((1 - v_tokens) / p_rate * 1000)::integer;
      END IF;
      RETURN;
    END IF;
  END IF;

  RETURN QUERY
    WITH next AS (
      SELECT j.id FROM jobs j
       WHERE j.queue = p_queue AND j.status IN ('waiting', 'delayed') AND j.run_at <= now()
       ORDER BY j.run_at
       LIMIT v_limit
       FOR UPDATE SKIP LOCKED)
    UPDATE jobs j
       SET status = 'active', attempts = j.attempts + 1, started_at = now(), progress = NULL,
           lease_token = gen_random_uuid(),
           lease_expires_at = now() + p_lease_ms * interval '1 millisecond'
      FROM next WHERE j.id = next.id
    RETURNING j.id, j.tenant_id, j.name, j.payload, j.attempts, j.max_attempts, j.timeout_ms,
              j.run_at, j.idempotency_key, j.conversation_id, j.created_by, j.created_at,
              j.started_at, j.lease_token, NULL::integer;
  GET DIAGNOSTICS v_taken = ROW_COUNT;

  IF p_rate IS NOT NULL THEN
    UPDATE job_queue_limits l SET tokens = v_tokens - v_taken, refreshed_at = v_now
     WHERE l.queue = p_queue;
  END IF;
END $$;

-- Extends the leases the caller still holds; returns the tokens of those it kept.
CREATE FUNCTION penny_queue_heartbeat(p_ids uuid[], p_tokens uuid[], p_lease_ms integer)
  RETURNS SETOF uuid
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE jobs j SET lease_expires_at = now() + p_lease_ms * interval '1 millisecond'
    FROM unnest(p_ids, p_tokens) AS h(id, token)
   WHERE j.id = h.id AND j.lease_token = h.token AND j.status = 'active'
  RETURNING j.lease_token
$$;

-- Takes back jobs whose worker died (lease expired): the attempt counts; the job waits
-- again, or fails when it has no attempts left. Returns how many it took back.
CREATE FUNCTION penny_queue_reap(p_queue text) RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH expired AS (
    SELECT id FROM jobs
     WHERE queue = p_queue AND status = 'active' AND lease_expires_at < now()
     ORDER BY lease_expires_at LIMIT 1000
     FOR UPDATE SKIP LOCKED),
  taken AS (
    UPDATE jobs j
       SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'waiting' END,
           finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
           error = 'lease expired: the worker stopped without finishing the job',
           run_at = now(), lease_token = NULL, lease_expires_at = NULL
      FROM expired WHERE j.id = expired.id
    RETURNING 1)
  SELECT count(*)::integer FROM taken
$$;

-- Retention: keeps the newest p_keep_completed completed and p_keep_failed failed jobs of
-- p_queue per tenant, deletes older ones. Returns how many it deleted.
CREATE FUNCTION penny_queue_prune(p_queue text, p_keep_completed integer, p_keep_failed integer)
  RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH ranked AS (
    SELECT id, status,
           row_number() OVER (PARTITION BY tenant_id, status
                              ORDER BY finished_at DESC, id DESC) AS rn
      FROM jobs WHERE queue = p_queue AND status IN ('completed', 'failed')),
  gone AS (
    DELETE FROM jobs j USING ranked r
     WHERE j.id = r.id
       AND r.rn > CASE r.status WHEN 'completed' THEN p_keep_completed ELSE p_keep_failed END
    RETURNING 1)
  SELECT count(*) FROM gone
$$;

REVOKE ALL ON FUNCTION penny_queue_claim(text, integer, integer, double precision),
  penny_queue_heartbeat(uuid[], uuid[], integer), penny_queue_reap(text),
  penny_queue_prune(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_queue_claim(text, integer, integer, double precision),
  penny_queue_heartbeat(uuid[], uuid[], integer), penny_queue_reap(text),
  penny_queue_prune(text, integer, integer) TO penny_app;
