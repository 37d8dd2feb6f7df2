-- One tenant must not starve the rest. Workers claim in a fair order: a tenant's k-th
-- ready job (oldest first) ranks by how many of its jobs are running plus k, so every
-- tenant with work gets a worker before any tenant gets a second one; ties go to the
-- oldest. With p_per_tenant set, no tenant has more than that many jobs running at once.
-- Claims of one queue are serialised by an advisory lock (they take milliseconds), so the
-- running counts they rank by are exact and the cap holds across every worker.
DROP FUNCTION penny_queue_claim(text, integer, integer, double precision);

CREATE FUNCTION penny_queue_claim(p_queue text, p_limit integer, p_lease_ms integer,
                                  p_rate double precision, p_per_tenant integer)
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
  PERFORM pg_advisory_xact_lock(hashtext('penny_queue_claim'), hashtext(p_queue));
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
    WITH running AS (
      SELECT j.tenant_id, count(*) AS n FROM jobs j
       WHERE j.queue = p_queue AND j.status = 'active'
       GROUP BY j.tenant_id),
    ready AS (
      SELECT j.id, j.tenant_id, j.run_at,
             row_number() OVER (PARTITION BY j.tenant_id ORDER BY j.run_at, j.id) AS k
        FROM jobs j
       WHERE j.queue = p_queue AND j.status IN ('waiting', 'delayed') AND j.run_at <= now()),
    ranked AS (
      SELECT r.id, coalesce(a.n, 0) + r.k AS slot, r.run_at
        FROM ready r LEFT JOIN running a ON a.tenant_id = r.tenant_id
       WHERE p_per_tenant IS NULL OR coalesce(a.n, 0) + r.k <= p_per_tenant
       ORDER BY slot, r.run_at
       LIMIT v_limit),
    next AS (
      SELECT j.id FROM jobs j JOIN ranked ON ranked.id = j.id
       FOR UPDATE OF j SKIP LOCKED)
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

REVOKE ALL ON FUNCTION penny_queue_claim(text, integer, integer, double precision, integer)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_queue_claim(text, integer, integer, double precision, integer)
  TO penny_app;
