-- transition: a guarded run status change (compare-and-set).
-- KEYS[1..10] run hash, item states (with the items), order, ready, tokens, metrics, deltas, errors, dead letters,
-- join sizes
-- KEYS[11] leases ZSET, KEYS[12] delayed ZSET
-- ARGV[1] key prefix, ARGV[2] run id, ARGV[3] operation: 'cancel' | 'fail' | 'pause' | 'resume',
-- ARGV[4] error JSON (cancel, fail) or '', ARGV[5] retainFinishedMs (0 = keep forever)
-- cancel: running/paused -> cancelled; fail: running/paused -> failed (both drop every outstanding item and parked
-- arrival); pause: running -> paused; resume: paused -> running (the run goes back on its ring if it has ready work).
-- Returns { 'not_found' } | { 'noop', status } (already in the target status) | { 'final', status } (a final status
-- cannot change) | { 'applied', status, dropped JSON array }
--! include common.lua
--! include finish.lua

local K = runKeys()
local prefix, runId, op = ARGV[1], ARGV[2], ARGV[3]
local meta = redis.call('HMGET', K.run, 'status', 'workflow', 'createdAt')
local status = meta[1]
if not status then return { 'not_found' } end
local target = ({ cancel = 'cancelled', fail = 'failed', pause = 'paused', resume = 'running' })[op]
if status == target then return { 'noop', status } end
if isFinal(status) then return { 'final', status } end
local now = nowMs()
if op == 'cancel' or op == 'fail' then
  local reason = op == 'cancel' and 'cancelled' or 'failed'
  local dropped = finishRun(K, prefix, runId, target, reason, now, ARGV[4], '', '', tonumber(ARGV[5]), 0)
  return { 'applied', target, dropped }
end
redis.call('HSET', K.run, 'status', target, 'updatedAt', int(now))
indexStatus(prefix, runId, meta[3], status, target)
if target == 'running' and redis.call('LLEN', K.ready) > 0 then ringAdd(prefix, meta[2], runId) end
return { 'applied', target, '[]' }
