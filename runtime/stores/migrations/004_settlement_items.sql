-- Floxide SQLite checkpoint store, migration 004: a completed join group becomes a settlement item.
--
-- When the last arrival of a fan-out group is parked, the store enqueues ONE settlement item (id "<group>:join")
-- carrying the group's parked arrivals as stored (floxide_arrivals.body, in index order); the engine decides what the
-- group becomes when it processes that item (runtime/engine/joins.ts). The settlement item shows the join node of the
-- first valued arrival parked (or "#held" when every arrival held): floxide_groups keeps that node.
ALTER TABLE floxide_groups ADD COLUMN node TEXT;
