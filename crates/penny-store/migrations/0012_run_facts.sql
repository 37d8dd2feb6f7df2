-- Finished runs reach the daily rollups through a queue of facts. The finishing
-- transaction only inserts its run's fact here (its own new row, so runs finishing together
-- never wait on each other); `penny_fold_run_facts` adds queued facts to the rollups in
-- batches and deletes them in the same transaction, so each fact is counted exactly once.
-- The scheduler folds every few seconds, and a report folds before it reads, so reports
-- stay exact.
--
-- Before this, the finishing transaction upserted the rollup rows itself: the row of a
-- user's day stayed locked until that transaction committed, so many runs of one user (an
-- API client, say) finishing together queued on it, each holding a database connection
-- while it waited, and the sends and event writes of every other run waited for one.
CREATE TABLE run_facts (
  id        bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  fact      penny_run_fact NOT NULL
);
SELECT penny_enable_rls('run_facts');
GRANT INSERT ON run_facts TO penny_app;
GRANT USAGE ON SEQUENCE run_facts_id_seq TO penny_app;

-- Folds up to p_limit queued facts (oldest first) into the rollups and returns how many.
-- One folder at a time (an advisory lock for the transaction): with p_wait false, a call
-- that finds another folder at work returns 0 at once; with p_wait true it waits its turn.
CREATE FUNCTION penny_fold_run_facts(p_limit integer, p_wait boolean) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_facts penny_run_fact[];
BEGIN
  IF p_wait THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('penny.run_facts', 0));
  ELSIF NOT pg_try_advisory_xact_lock(hashtextextended('penny.run_facts', 0)) THEN
    RETURN 0;
  END IF;
  WITH taken AS (
    DELETE FROM run_facts WHERE id IN (SELECT id FROM run_facts ORDER BY id LIMIT p_limit)
    RETURNING fact)
  SELECT array_agg(fact) INTO v_facts FROM taken;
  IF v_facts IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM penny_rollup_runs(v_facts);
  RETURN cardinality(v_facts);
END $$;
REVOKE ALL ON FUNCTION penny_fold_run_facts(integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION penny_fold_run_facts(integer, boolean) TO penny_app;
