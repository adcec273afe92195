-- park_run: sets whether a run is in the claim rotation from its outstanding items (migration 0014): out of it
-- (queue_runs.wake_at = their earliest due_at) when they are all parked and none is due by p_now, in it (wake_at
-- NULL) otherwise. Called by a commit that enqueued nothing claimable (the commit's time) and by a claim for the runs
-- whose wake_at came (claim_items: the first item due puts the run back; a run judged parked too early, as migration
-- 0014 judges the runs it finds, is parked again until its real due time). A signal that wakes a wait puts the run
-- back itself (signal_run).
-- Parameters: p_run run id, p_now epoch ms.
-- Returns: true when the run has outstanding items (parked or not), false when it has none (a commit then fails the
--   run: no terminal reached).
-- Cost: the run's outstanding items in due order (items_claimable), up to the first that is due or not parked: one row
--   for a run with work pending or in flight (a join's arrivals, a fan-out's branches) or woken by its due item. At
--   most 1,001 rows: a run with more than 1,000 outstanding items, the first 1,000 parked, stays in the rotation (one
--   index probe per claim, as every run was before migration 0014) rather than read whole each time. The rotation row
--   is written only when its wake_at changes.
-- Concurrency: a commit holds the runs row lock, which every writer of the run's items but the claim takes first
--   (commits, signals, releases, transitions, moves), so no parked item becomes pending behind its back; a claim may
--   lease a due item meanwhile, and the wake_at written is then at most that item's due_at, already past: the next
--   claim puts the run back. A claim holds the rotation row (FOR UPDATE SKIP LOCKED) but not the runs row: a signal
--   that makes a wait pending meanwhile writes the rotation row after its items (signal_run), so it waits for the
--   claim and then puts the run back; a commit that writes it after the claim writes what the commit saw, which is
--   newer.
CREATE OR REPLACE FUNCTION park_run(p_run text, p_now bigint) RETURNS boolean LANGUAGE plpgsql SET enable_sort = off AS $$
DECLARE
  v_item record;
  v_seen integer := 0;
  v_ready boolean := false;
  v_wake bigint;
BEGIN
  -- the first item alone first: it decides for a run woken by its due item and for one with work pending or in flight
  SELECT i.status, i.due_at INTO v_item FROM items i WHERE i.run_id = p_run AND i.due_at IS NOT NULL ORDER BY i.due_at, i.seq LIMIT 1;
  IF FOUND AND (v_item.status <> 'parked' OR v_item.due_at <= p_now) THEN
    UPDATE queue_runs SET wake_at = NULL WHERE run_id = p_run AND wake_at IS NOT NULL;
    RETURN true;
  END IF;
  FOR v_item IN
    SELECT i.status, i.due_at FROM items i WHERE i.run_id = p_run AND i.due_at IS NOT NULL ORDER BY i.due_at, i.seq LIMIT 1001
  LOOP
    IF v_item.status <> 'parked' OR v_item.due_at <= p_now THEN
      v_ready := true;
      EXIT;
    END IF;
    v_seen := v_seen + 1;
    v_wake := coalesce(v_wake, v_item.due_at);
  END LOOP;
  IF v_ready OR v_seen > 1000 THEN
    v_wake := NULL;
  END IF;
  UPDATE queue_runs SET wake_at = v_wake WHERE run_id = p_run AND wake_at IS DISTINCT FROM v_wake;
  RETURN v_ready OR v_seen > 0;
END $$;
