-- migrate: moves an open run to another graph version (functions/migrate_run.sql).
-- Parameters: $1 run_id, $2 from, $3 to, $4 'keep' | 'block', $5 the outstanding item ids judged | NULL,
--   $6 the rewrites (JSON text: [[item id, payload as judged, new payload, new node], ...]), $7 the run.migrated event
--   JSON without its "at" (engine/migration.ts migratedEventJson). Returns: one row, `result` jsonb.
SELECT migrate_run($1, $2, $3, $4, $5::text[], $6::jsonb, $7::jsonb) AS result
