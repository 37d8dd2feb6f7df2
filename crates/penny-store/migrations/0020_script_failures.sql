-- A tool run whose script raised, timed out or hit a limit counts as a failure in the
-- rollups, as it does in the chat (`tool.result`'s `ok`, from `succeeded` in
-- `penny-tools/src/jobs.rs`, which this mirrors): its job completed, because the tool ran,
-- but the script did not do what it was asked. Output cut at its cap after a clean exit
-- still counts as done. Jobs that end from now on are counted so; past days keep theirs.
CREATE OR REPLACE FUNCTION penny_job_facts(p_ids uuid[]) RETURNS SETOF penny_job_fact
  LANGUAGE sql STABLE AS $$
  SELECT tenant_id, (finished_at AT TIME ZONE 'UTC')::date, queue, name,
         status = 'failed'
           OR coalesce(result->>'outcome', 'ok') NOT IN ('ok', 'output_truncated')
           OR (result->>'outcome' = 'output_truncated' AND result->>'exitCode' IS DISTINCT FROM '0'),
         greatest(0, (extract(epoch FROM finished_at - coalesce(started_at, finished_at)) * 1000))::bigint
    FROM jobs
   WHERE id = ANY (p_ids) AND status IN ('completed', 'failed') AND finished_at IS NOT NULL
$$;
