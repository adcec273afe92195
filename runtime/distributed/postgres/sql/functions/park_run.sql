-- park_run: takes a run out of the claim rotation when its outstanding items are all parked (migration 0014): its
-- queue_runs.wake_at becomes their earliest due_at, when the first claim after it puts the run back (claim_items), as
-- a signal to one of its waits does at once (signal_run). Called by a commit that enqueued nothing claimable.
-- Parameters: p_run run id.
-- Returns: true when the run has outstanding items (parked or not), false when it has none (the caller fails it:
--   no terminal reached).
-- Concurrency: the caller holds the runs row lock, which every writer of the run's items but the claim takes first
--   (commits, signals, releases, transitions, moves), so no parked item becomes pending behind its back. A claim
--   may lease a due item meanwhile; the run's wake_at is then at most that item's due_at, already past: the next
--   claim puts the run back.
CREATE OR REPLACE FUNCTION park_run(p_run text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_all_parked boolean;
  v_wake bigint;
BEGIN
  SELECT bool_and(i.status = 'parked'), min(i.due_at) INTO v_all_parked, v_wake FROM items i WHERE i.run_id = p_run AND i.due_at IS NOT NULL;
  IF v_all_parked THEN
    UPDATE queue_runs SET wake_at = v_wake WHERE run_id = p_run;
  END IF;
  RETURN v_all_parked IS NOT NULL;
END $$;
