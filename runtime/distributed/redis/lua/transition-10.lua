--[[
  transition: a guarded run status change (compare-and-set).
  cancel: running/paused -> cancelled; fail: running/paused -> failed (both drop every outstanding item and parked
  arrival); pause: running -> paused; resume: paused -> running (the run goes back on its ring if it has ready work
  and is not still there from before the pause).

  Input:
    KEYS[1] run HASH
    KEYS[2] item states HASH
    KEYS[3] ready LIST
    KEYS[4] tokens SET
    KEYS[5] counters HASH
    KEYS[6] errors LIST
    KEYS[7] dead letters LIST
    KEYS[8] join sizes HASH
    KEYS[9] leases ZSET
    KEYS[10] delayed ZSET
    ARGV[1] key prefix P
    ARGV[2] run id R
    ARGV[3] operation: 'cancel' | 'fail' | 'pause' | 'resume'
    ARGV[4] error JSON (cancel, fail) or ''
    ARGV[5] retainFinishedMs (0 = keep forever)
    ARGV[6] events to keep in the stream, about (0 = no events)

  Keys derived from P and R (and R's workflow W and status S):
    P run:{R}:tally      HASH  items per state and node, as moves (tallyCounts) (includes/common.lua putState): the dropped
                               items move to `dropped`; P run:{R}:open ZSET, the index of outstanding items, is
                               deleted when the run finishes
    P run:{R}:join:<g>   HASH  parked arrivals of group g (deleted when the run finishes)
    P run:{R}:wait:<n>   LIST  parked waits for signal n (deleted when the run finishes)
    P run:{R}:mailbox    LIST  signals no wait took, P run:{R}:sigkeys SET and :sigdigests HASH (expire with the run)
    P ring:W@F           LIST  R goes back on its version's ring on resume
    P runs:status:S      ZSET  listRuns index; P runs:expiring ZSET: expiry queue
    P run:{R}:steps      LIST  step history (expires with the run)
    P events             STREAM run.cancelled, run.failed, run.paused, run.resumed
    P events:avg         STRING events per stream entry, the trims' moving average (includes/common.lua)

  Output:
    { 'not_found' }                               unknown run
    { 'corrupt', field, value }                   the run record's createdAt or outstanding is no number (nothing written)
    { 'noop', status }                            already in the target status
    { 'final', status }                           a final status cannot change
    { 'applied', status, dropped JSON array }
]]
--! include common.lua
--! include parked.lua
--! include finish.lua

local K = runKeys()
local prefix, runId, op = ARGV[1], ARGV[2], ARGV[3]
eventsMax = tonumber(ARGV[6])
local meta = redis.call('HMGET', K.run, 'status', 'workflow', 'createdAt', 'outstanding', 'fingerprint')
local status = meta[1]
if not status then return { 'not_found' } end
-- (read before any write: a script that fails halfway keeps what it wrote)
if not tonumber(meta[3]) then return { 'corrupt', 'createdAt', meta[3] or '' } end
if not tonumber(meta[4] or '0') then return { 'corrupt', 'outstanding', meta[4] } end
local target = ({ cancel = 'cancelled', fail = 'failed', pause = 'paused', resume = 'running' })[op]
if status == target then return { 'noop', status } end
if isFinal(status) then return { 'final', status } end
local now, nowText = nowMs()
if op == 'cancel' or op == 'fail' then
  local reason = op == 'cancel' and 'cancelled' or 'failed'
  local r = { id = runId, status = status, createdAt = meta[3], workflow = meta[2], open = tonumber(meta[4] or '0') }
  local dropped = finishRun(K, prefix, r, target, reason, now, nowText, ARGV[4], '', '', tonumber(ARGV[5]))
  return { 'applied', target, dropped }
end
-- (read before the writes: a script that fails halfway keeps what it wrote, and a resumed run off its ring waits for ever)
local toRing = target == 'running' and redis.call('LLEN', K.ready) > 0
  and not redis.call('LPOS', prefix .. 'ring:' .. ringOf(meta[2], meta[5]), runId)
redis.call('HSET', K.run, 'status', target, 'updatedAt', nowText)
indexStatus(prefix, runId, meta[3], status, target)
if toRing then ringPush(prefix, ringOf(meta[2], meta[5]), runId) end
publish(prefix, runId, '{"at":' .. nowText .. ',"runId":' .. cjson.encode(runId) .. ',"type":"run.' .. (op == 'pause' and 'paused' or 'resumed') .. '"}')
return { 'applied', target, '[]' }
