-- release_item: gives a live lease back (graceful shutdown, or an item the worker could not run). The item becomes
-- pending again at once, same attempt, ahead of items enqueued later (due_at 0, enqueue order kept); its delivery is
-- not counted as a redelivery, and the claim's delivery is taken back (a given-back item was neither crashed on nor
-- stalled: it is no step towards poison). With p_misrouted (another workflow or graph version), runs.misrouted counts it.
-- Parameters: p_run run id, p_item item id, p_token lease token, p_misrouted boolean.
-- Returns: true when the lease was live and is released, false otherwise (lost lease, unknown run or item).
-- Locking: the runs row FOR UPDATE first, then the item row: the order of every commit, transition and signal, so a
--   release never deadlocks with them (locking the item first did: a commit or cancel holding the run and waiting
--   for the item, while the release held the item and waited for the run to count it).
CREATE OR REPLACE FUNCTION release_item(p_run text, p_item text, p_token text, p_misrouted boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM runs r WHERE r.run_id = p_run FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE items SET status = 'pending', deliveries = greatest(deliveries - 1, 0), lease_token = NULL, lease_expires_at = NULL, due_at = 0, updated_at = now_ms()
  WHERE run_id = p_run AND item_id = p_item AND status = 'in_progress' AND lease_token = p_token AND lease_expires_at > now_ms();
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF p_misrouted THEN
    UPDATE runs SET misrouted = misrouted + 1 WHERE run_id = p_run;
  END IF;
  RETURN true;
END $$;
