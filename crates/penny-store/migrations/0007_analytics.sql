-- Analytics and health: daily rollups per tenant, kept current in the transactions that
-- finish runs and jobs (and, by trigger, that create conversations), so a 90-day report
-- reads a few thousand rollup rows instead of scanning messages; the platform table of
-- running `penny serve` processes; and per-tenant usage (users, stored bytes) for the
-- super-admin's tenant list.

-- Latency histograms have 64 fixed, log-spaced buckets: bucket 0 holds [0, 1 ms), bucket
-- k (1..62) holds [2^((k-1)/3), 2^(k/3)) ms, bucket 63 everything from 2^(62/3) ms (about
-- 28 minutes) up. Three buckets per doubling: a quantile read as its bucket's geometric
-- middle is within 2^(1/6) - 1, about 12.2 %, of the true value (between 1 ms and 28 min).
-- The small epsilon keeps exact powers of two in their own bucket despite rounding.
CREATE FUNCTION penny_latency_bucket(ms bigint) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ms IS NULL THEN NULL
              WHEN ms < 1 THEN 0
              ELSE least(63, 1 + floor(3 * ln(ms::double precision) / ln(2) + 1e-9)::integer)
         END
$$;

-- Runs per day and user, and per day and model (the model that answered): the same
-- counters and a time-to-first-token histogram (ttft_h00..ttft_h63, added below) in each,
-- so every grouping of a report sums a few hundred or thousand rows (days x users or days
-- x models), never days x users x models rows of 64 buckets. No foreign key to users:
-- deleting a user must not rewrite the history of past days.
-- Runs finishing together would queue on the one row of their day and model until each
-- commits: each database session adds to its own `shard` row of the model rollup
-- (pg_backend_pid() % 16), and reports sum the shards. The user rollup is not sharded:
-- one user rarely finishes many runs at once, and shards would multiply its rows (users x
-- days x shards) that a per-user report reads.
CREATE TABLE usage_user_daily (
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day           date NOT NULL,
  user_id       uuid NOT NULL,
  -- Messages users sent; each starts one run, so `messages` and `runs` move together.
  messages      bigint NOT NULL DEFAULT 0,
  runs          bigint NOT NULL DEFAULT 0,
  failed_runs   bigint NOT NULL DEFAULT 0,
  input_tokens  bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cost_usd      double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, user_id)
);
CREATE TABLE usage_model_daily (
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day           date NOT NULL,
  model         text NOT NULL,
  messages      bigint NOT NULL DEFAULT 0,
  runs          bigint NOT NULL DEFAULT 0,
  failed_runs   bigint NOT NULL DEFAULT 0,
  input_tokens  bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cost_usd      double precision NOT NULL DEFAULT 0,
  shard         smallint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, model, shard)
);

-- On which days each user used each model, as a multirange (adjacent days merge): the
-- distinct users of a model over any range are counted from users x models rows.
CREATE TABLE model_users (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  model     text NOT NULL,
  user_id   uuid NOT NULL,
  days      datemultirange NOT NULL,
  PRIMARY KEY (tenant_id, model, user_id)
);

-- Per day, queue and job name: jobs that ended (completed, or failed for good), with a
-- histogram of their durations (duration_h00..duration_h63). The `tools` queue's job
-- names are tool names.
CREATE TABLE jobs_daily (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day       date NOT NULL,
  queue     text NOT NULL,
  name      text NOT NULL,
  runs      bigint NOT NULL DEFAULT 0,
  failures  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, queue, name)
);

-- Failed runs per day and error code (`provider_auth`, `instance_lost`, ...).
CREATE TABLE run_errors_daily (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day       date NOT NULL,
  code      text NOT NULL,
  runs      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, code)
);

-- Conversations created per day and user.
CREATE TABLE conversations_daily (
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day           date NOT NULL,
  user_id       uuid NOT NULL,
  conversations bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, user_id)
);

SELECT penny_enable_rls(t)
FROM unnest(ARRAY['usage_user_daily', 'usage_model_daily', 'model_users', 'jobs_daily',
                  'run_errors_daily', 'conversations_daily']::regclass[]) AS t;
GRANT SELECT, INSERT, UPDATE ON usage_user_daily, usage_model_daily, model_users,
  jobs_daily, run_errors_daily, conversations_daily TO penny_app;

-- What one finished run adds to the rollups, and what one ended job adds.
CREATE TYPE penny_run_fact AS (
  tenant_id     uuid,
  day           date,
  user_id       uuid,
  model         text,
  failed        boolean,
  input_tokens  bigint,
  output_tokens bigint,
  cost          double precision,
  ttft_ms       bigint,
  error_code    text
);
CREATE TYPE penny_job_fact AS (
  tenant_id   uuid,
  day         date,
  queue       text,
  name        text,
  failed      boolean,
  duration_ms bigint
);

-- The facts of the finished runs among p_runs, from the stored rows. A run counts on the
-- UTC day it finished.
CREATE FUNCTION penny_run_facts(p_runs uuid[]) RETURNS SETOF penny_run_fact
  LANGUAGE sql STABLE AS $$
  SELECT r.tenant_id, (coalesce(r.finished_at, r.created_at) AT TIME ZONE 'UTC')::date,
         c.user_id, coalesce(m.model, c.model, 'unknown'), r.status = 'failed',
         coalesce(m.input_tokens, 0), coalesce(m.output_tokens, 0), coalesce(m.cost, 0),
         m.ttft_ms, CASE WHEN r.status = 'failed' THEN coalesce(m.error_code, 'unknown') END
    FROM runs r
    JOIN conversations c ON c.id = r.conversation_id
    JOIN messages m ON m.id = r.assistant_message_id
   WHERE r.id = ANY (p_runs) AND r.status <> 'running'
$$;

-- The facts of the ended jobs among p_ids. Duration: the last attempt, from its claim to
-- its end.
CREATE FUNCTION penny_job_facts(p_ids uuid[]) RETURNS SETOF penny_job_fact
  LANGUAGE sql STABLE AS $$
  SELECT tenant_id, (finished_at AT TIME ZONE 'UTC')::date, queue, name, status = 'failed',
         greatest(0, (extract(epoch FROM finished_at - coalesce(started_at, finished_at)) * 1000))::bigint
    FROM jobs
   WHERE id = ANY (p_ids) AND status IN ('completed', 'failed') AND finished_at IS NOT NULL
$$;

-- The histogram columns and the two rollup functions, spelled out once here for all 64
-- buckets. Each function adds a batch of facts with one upsert per table; rows are
-- written in key order, so concurrent batches cannot deadlock on each other.
DO $migration$
DECLARE
  ttft_cols text;
  ttft_adds text;
  dur_cols  text;
  dur_adds  text;
  counts    text;
  h         text[];
BEGIN
  SELECT string_agg(format('ttft_h%s', lpad(k::text, 2, '0')), ', ' ORDER BY k),
         'messages = t.messages + EXCLUDED.messages, runs = t.runs + EXCLUDED.runs, '
           'failed_runs = t.failed_runs + EXCLUDED.failed_runs, '
           'input_tokens = t.input_tokens + EXCLUDED.input_tokens, '
           'output_tokens = t.output_tokens + EXCLUDED.output_tokens, '
           'cost_usd = t.cost_usd + EXCLUDED.cost_usd, '
           || string_agg(format('ttft_h%1$s = t.ttft_h%1$s + EXCLUDED.ttft_h%1$s', lpad(k::text, 2, '0')),
                         ', ' ORDER BY k),
         string_agg(format('duration_h%s', lpad(k::text, 2, '0')), ', ' ORDER BY k),
         string_agg(format('duration_h%1$s = j.duration_h%1$s + EXCLUDED.duration_h%1$s',
                           lpad(k::text, 2, '0')), ', ' ORDER BY k),
         string_agg(format('count(*) FILTER (WHERE b = %s)', k), ', ' ORDER BY k)
    INTO ttft_cols, ttft_adds, dur_cols, dur_adds, counts
    FROM generate_series(0, 63) AS k;

  FOREACH h SLICE 1 IN ARRAY ARRAY[['usage_user_daily', 'ttft'], ['usage_model_daily', 'ttft'],
                                   ['jobs_daily', 'duration']] LOOP
    EXECUTE (SELECT format('ALTER TABLE %I ', h[1])
                    || string_agg(format('ADD COLUMN %s_h%s integer NOT NULL DEFAULT 0', h[2],
                                         lpad(k::text, 2, '0')), ', ' ORDER BY k)
               FROM generate_series(0, 63) AS k);
  END LOOP;

  EXECUTE format($f$
    CREATE FUNCTION penny_rollup_runs(facts penny_run_fact[]) RETURNS void
      LANGUAGE plpgsql AS $body$
    BEGIN
      INSERT INTO usage_user_daily AS t (tenant_id, day, user_id, messages, runs, failed_runs,
                                         input_tokens, output_tokens, cost_usd, %1$s)
      SELECT tenant_id, day, user_id, count(*), count(*), count(*) FILTER (WHERE failed),
             coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
             coalesce(sum(cost), 0), %3$s
        FROM (SELECT f.*, penny_latency_bucket(f.ttft_ms) AS b FROM unnest(facts) AS f) AS f
       GROUP BY tenant_id, day, user_id
       ORDER BY tenant_id, day, user_id
      ON CONFLICT (tenant_id, day, user_id) DO UPDATE SET %2$s;

      INSERT INTO usage_model_daily AS t (tenant_id, day, model, shard, messages, runs, failed_runs,
                                          input_tokens, output_tokens, cost_usd, %1$s)
      SELECT tenant_id, day, model, (pg_backend_pid() %% 16)::smallint,
             count(*), count(*), count(*) FILTER (WHERE failed),
             coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
             coalesce(sum(cost), 0), %3$s
        FROM (SELECT f.*, penny_latency_bucket(f.ttft_ms) AS b FROM unnest(facts) AS f) AS f
       GROUP BY tenant_id, day, model
       ORDER BY tenant_id, day, model
      ON CONFLICT (tenant_id, day, model, shard) DO UPDATE SET %2$s;

      -- Days already recorded are skipped before the insert, so the usual case (a user
      -- who used the model earlier that day) reads the row without locking it.
      INSERT INTO model_users AS m (tenant_id, model, user_id, days)
      SELECT n.* FROM (
        SELECT tenant_id, model, user_id, range_agg(daterange(day, day, '[]')) AS days
          FROM unnest(facts)
         GROUP BY tenant_id, model, user_id) AS n
       WHERE NOT EXISTS (SELECT 1 FROM model_users o
                          WHERE o.tenant_id = n.tenant_id AND o.model = n.model
                            AND o.user_id = n.user_id AND o.days @> n.days)
       ORDER BY n.tenant_id, n.model, n.user_id
      ON CONFLICT (tenant_id, model, user_id) DO UPDATE SET days = m.days + EXCLUDED.days
       WHERE NOT m.days @> EXCLUDED.days;

      INSERT INTO run_errors_daily AS e (tenant_id, day, code, runs)
      SELECT tenant_id, day, error_code, count(*) FROM unnest(facts)
       WHERE failed AND error_code IS NOT NULL
       GROUP BY tenant_id, day, error_code
       ORDER BY tenant_id, day, error_code
      ON CONFLICT (tenant_id, day, code) DO UPDATE SET runs = e.runs + EXCLUDED.runs;
    END $body$ $f$, ttft_cols, ttft_adds, counts);

  EXECUTE format($f$
    CREATE FUNCTION penny_rollup_jobs(facts penny_job_fact[]) RETURNS void
      LANGUAGE plpgsql AS $body$
    BEGIN
      INSERT INTO jobs_daily AS j (tenant_id, day, queue, name, runs, failures, %1$s)
      SELECT tenant_id, day, queue, name, count(*), count(*) FILTER (WHERE failed), %3$s
        FROM (SELECT f.*, penny_latency_bucket(f.duration_ms) AS b FROM unnest(facts) AS f) AS f
       GROUP BY tenant_id, day, queue, name
       ORDER BY tenant_id, day, queue, name
      ON CONFLICT (tenant_id, day, queue, name) DO UPDATE SET
        runs = j.runs + EXCLUDED.runs, failures = j.failures + EXCLUDED.failures, %2$s;
    END $body$ $f$, dur_cols, dur_adds, counts);
END $migration$;

-- Conversations are counted as they are created, in the creating transaction.
CREATE FUNCTION penny_count_conversation() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversations_daily AS d (tenant_id, day, user_id, conversations)
  VALUES (NEW.tenant_id, (NEW.created_at AT TIME ZONE 'UTC')::date, NEW.user_id, 1)
  ON CONFLICT (tenant_id, day, user_id) DO UPDATE SET conversations = d.conversations + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER conversations_daily AFTER INSERT ON conversations
  FOR EACH ROW EXECUTE FUNCTION penny_count_conversation();

-- Taking back jobs whose worker died (0004), now also counting the ones that fail for
-- good in the rollup, in the same statement's transaction.
CREATE OR REPLACE FUNCTION penny_queue_reap(p_queue text) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_taken  integer;
  v_failed penny_job_fact[];
BEGIN
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
    RETURNING j.tenant_id, j.queue, j.name, j.status, j.started_at, j.finished_at)
  SELECT count(*)::integer,
         array_agg(ROW(tenant_id, (finished_at AT TIME ZONE 'UTC')::date, queue, name, true,
                       greatest(0, extract(epoch FROM finished_at - coalesce(started_at, finished_at)) * 1000)::bigint
                   )::penny_job_fact) FILTER (WHERE status = 'failed')
    INTO v_taken, v_failed
    FROM taken;
  IF v_failed IS NOT NULL THEN
    PERFORM penny_rollup_jobs(v_failed);
  END IF;
  RETURN v_taken;
END $$;

-- What happened before this migration. The owner bypasses row-level security (see
-- `penny doctor`); were it not to, these read and write nothing rather than fail.
SELECT penny_rollup_runs(ARRAY(SELECT f FROM penny_run_facts(ARRAY(SELECT id FROM runs)) AS f));
SELECT penny_rollup_jobs(ARRAY(SELECT f FROM penny_job_facts(ARRAY(SELECT id FROM jobs)) AS f));
INSERT INTO conversations_daily (tenant_id, day, user_id, conversations)
SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date, user_id, count(*)
  FROM conversations GROUP BY 1, 2, 3;

-- Every `penny serve` process, written every few seconds by the process itself. A
-- platform table (not tenant-owned): no tenant data, seen by every tenant's health page.
CREATE TABLE instances (
  id           uuid PRIMARY KEY,
  host         text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
  roles        text[] NOT NULL,
  version      text NOT NULL,
  started_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON instances TO penny_app;

-- The super-admin's tenant list shows each tenant's user count and stored bytes (uploaded
-- files and artifact versions). Those rows are tenant-owned, so this reads aggregates
-- across tenants and returns nothing else.
CREATE FUNCTION penny_tenant_usage() RETURNS TABLE (tenant_id uuid, users bigint, storage_bytes bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH u AS (SELECT tenant_id, count(*) AS n FROM users GROUP BY tenant_id),
       f AS (SELECT tenant_id, sum(size) AS b FROM files GROUP BY tenant_id),
       v AS (SELECT tenant_id, sum(size) AS b FROM artifact_versions GROUP BY tenant_id)
  SELECT t.id, coalesce(u.n, 0), (coalesce(f.b, 0) + coalesce(v.b, 0))::bigint
    FROM tenants t
    LEFT JOIN u ON u.tenant_id = t.id
    LEFT JOIN f ON f.tenant_id = t.id
    LEFT JOIN v ON v.tenant_id = t.id
$$;
REVOKE ALL ON FUNCTION penny_tenant_usage() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_tenant_usage() TO penny_app;
