-- Migration 0008: a failure that a node's fallbacks took is an error record of its own kind, 'fallback' (written by
-- commit_one with the continue commit that enqueues the fallbacks' items).
ALTER TABLE errors DROP CONSTRAINT errors_kind_check;
ALTER TABLE errors ADD CONSTRAINT errors_kind_check CHECK (kind IN ('retry', 'fallback', 'failure', 'worker'));
