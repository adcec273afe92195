-- Migration 0011: a signal a wait refused (its payload failed the wait's check; the wait goes on waiting) is an error
-- record of its own kind, 'signal' (written by commit_one with the continue commit that parks the wait again).
ALTER TABLE errors DROP CONSTRAINT errors_kind_check;
ALTER TABLE errors ADD CONSTRAINT errors_kind_check CHECK (kind IN ('retry', 'fallback', 'signal', 'failure', 'worker'));
