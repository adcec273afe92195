-- park_run: takes a run out of the claim rotation when its outstanding items are all parked (migration 0014): its
-- queue_runs.wake_at becomes their earliest due_at, when the first claim after it puts the run back (claim_items), as
-- a signal to one of its waits does at once (signal_run). Called by a commit that enqueued nothing claimable.
-- Parameters: p_run run id.
-- Returns: true when the run has outstanding items (parked or not), false when it has none (the caller fails it:
--   no terminal reached).
-- Cost: the run's outstanding items in due order (items_claimable), up to the first that is not parked: one row for a
--   run with work pending or in flight (a join's arrivals, a fan-out's branches). At most 1,001 rows: a run with more
--   than 1,000 outstanding items, the first 1,000 parked, is left in the rotation (one index probe per claim, as every
--   run was before migration 0014) rather than read whole at each such commit.
-- Concurrency: the caller holds the runs row lock, which every writer of the run's items but the claim takes first
--   (commits, signals, releases, transitions, moves), so no parked item becomes pending behind its back. A claim
--   may lease a due item meanwhile; the run's wake_at is then at most that item's due_at, already past: the next
--   claim puts the run back.
CREATE OR REPLACE FUNCTION park_run(p_run text) RETURNS boolean LANGUAGE plpgsql SET enable_sort = off AS $$
DECLARE
  v_item record;
  v_seen integer := 0;
  v_wake bigint;
BEGIN
  FOR v_item IN
    SELECT i.status, i.due_at FROM items i WHERE i.run_id = p_run AND i.due_at IS NOT NULL ORDER BY i.due_at, i.seq LIMIT 1001
  LOOP
    IF v_item.status <> 'parked' THEN
      RETURN true;
    END IF;
    v_seen := v_seen + 1;
    v_wake := coalesce(v_wake, v_item.due_at);
  END LOOP;
  IF v_seen = 0 THEN
    RETURN false;
  END IF;
  IF v_seen <= 1000 THEN
    UPDATE queue_runs SET wake_at = v_wake WHERE run_id = p_run;
  END IF;
  RETURN true;
END $$;
