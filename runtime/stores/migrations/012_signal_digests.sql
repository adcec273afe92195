-- Floxide SQLite checkpoint store, migration 012: what a signal's idempotency key stands for.
--
-- floxide_signals.digest  for a signal with a key: SHA-256 (hex) of its payload's canonical JSON (core/signal-plan.ts
--                         signalDigest). A repeated key answers `duplicate` only when the name and the digest are the
--                         first signal's, and is refused (SignalKeyConflictError) otherwise. NULL: a row without a key,
--                         or kept by a floxide before this migration, whose key matches any signal (a duplicate, as then).
ALTER TABLE floxide_signals ADD COLUMN digest TEXT;
