--[[
  create-run: atomically creates each of a batch of runs: its record, its initial context and its first item (or
  finds the same run). Runs are handled one after the other, each all or nothing (a run id given twice in one batch
  finds the first one's run); the whole batch is one script, so no other client sees a half-created run.
  Also forgets expired runs' index entries (bounded, from KEYS[2]).

  Input:
    KEYS[1] runs ZSET (listRuns index, score createdAt)
    KEYS[2] runs:expiring ZSET (member "status\nrunId\nworkflow", score expiry)
    ARGV[1] key prefix P
    ARGV[2] number of runs; then per run 10 arguments:
      run id, workflow, fingerprint, canonical input JSON, initial context JSON, first item id, first item node,
      first item JSON, deadline (epoch ms) or '', traceparent (W3C trace context of the run's span) or ''
    ARGV[last] events to keep in the stream, about (0 = no events; see publish in includes/common.lua)

  Keys derived from P and one run id R (and its workflow W and status S):
    P run:{R}            HASH  the run record (neither `tallied` nor `indexed`: they come with its INDEX_FROM-th item
                               or its first count, see putState in includes/common.lua)
    P run:{R}:states     HASH  item states (the first item)
    P run:{R}:ready      LIST  claimable item ids
    P ring:W@F           LIST  the ring of the run's workflow version; P wfset SET, P wfring LIST: the rings
    P runs:workflow:W    ZSET  listRuns index
    P runs:status:S      ZSET  listRuns index
    P events             STREAM run.created
    P events:avg         STRING events per stream entry, the trims' moving average (includes/common.lua)

  Output: one reply per run, in order:
    { 'created', createdAt }                     created (the new record is exactly the arguments)
    { code, ...RUN_FIELDS values }               the stored run, code 'exists' | 'workflow_mismatch' |
                                                 'fingerprint_mismatch' | 'input_mismatch'
    { 'leftover', itemId }                       an item state is kept under the run id without a run record
                                                 (nothing written)
    { 'error', text }                            Redis refused a command of it (a stray write made a key of the wrong
                                                 type): its deferred writes are dropped, the other runs are created
]]
--! include common.lua

local prefix, nRuns = ARGV[1], tonumber(ARGV[2])
eventsMax = tonumber(ARGV[#ARGV])
deferEvents = true -- one stream entry for all of this call's events (flushDeferred)
local now, nowText = nowMs()

-- Forget the index entries of finished runs whose keys have expired (bounded work per call).
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', nowText, 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  local a = string.find(member, '\n', 1, true)
  local b = string.find(member, '\n', a + 1, true)
  local st, id, wf = string.sub(member, 1, a - 1), string.sub(member, a + 1, b - 1), string.sub(member, b + 1)
  if redis.call('EXISTS', prefix .. 'run:{' .. id .. '}') == 0 then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', prefix .. 'runs:status:' .. st, id)
    redis.call('ZREM', prefix .. 'runs:workflow:' .. wf, id)
  end
  redis.call('ZREM', KEYS[2], member)
end

-- Creates the run whose 10 arguments follow ARGV[p]; returns its reply.
local function createOne(p)
  local runId, workflow, fingerprint, input = ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4]
  local K = runKeysOf(prefix, runId)
  -- (a new run is neither tallied nor indexed until it has INDEX_FROM items or is counted: see putState)
  K.tallied, K.indexed = false, false
  local existing = redis.call('HMGET', K.run, 'workflow', 'fingerprint', 'input')
  if existing[1] then
    local code = 'exists'
    if existing[1] ~= workflow then code = 'workflow_mismatch'
    elseif existing[2] ~= fingerprint then code = 'fingerprint_mismatch'
    elseif existing[3] ~= input then code = 'input_mismatch' end
    local r = redis.call('HMGET', K.run, unpack(RUN_FIELDS))
    table.insert(r, 1, code)
    return r
  end
  -- the first item before the record: an item state left under this id without a record (its record deleted by
  -- hand) refuses the run with nothing written, where the run was created without its first item, waiting for ever
  if not addItem(K, prefix, runId, ringOf(workflow, fingerprint), 'running', ARGV[p + 6], ARGV[p + 7], ARGV[p + 8], nowText, '1') then
    return { 'leftover', ARGV[p + 6] }
  end
  local fields = { 'workflow', workflow, 'fingerprint', fingerprint, 'status', 'running', 'input', input,
    'context', ARGV[p + 5], 'createdAt', nowText, 'updatedAt', nowText, 'outstanding', '1', 'n', '1' }
  if ARGV[p + 9] ~= '' then fields[#fields + 1] = 'deadline'; fields[#fields + 1] = ARGV[p + 9] end
  if ARGV[p + 10] ~= '' then fields[#fields + 1] = 'traceparent'; fields[#fields + 1] = ARGV[p + 10] end
  redis.call('HSET', K.run, unpack(fields))
  -- index entries and ring pushes: written once per key at the end (nothing in this script reads them back)
  defer('ZADD', KEYS[1], nowText, runId)
  defer('ZADD', prefix .. 'runs:workflow:' .. workflow, nowText, runId)
  defer('ZADD', prefix .. 'runs:status:running', nowText, runId)
  workflowAdd(prefix, ringOf(workflow, fingerprint))
  publish(prefix, runId, '{"at":' .. nowText .. ',"runId":' .. cjson.encode(runId) .. ',"type":"run.created","workflow":' .. cjson.encode(workflow) .. '}')
  return { 'created', now }
end

-- Each run under pcall: one that Redis refuses answers { 'error', text } with its deferred writes dropped, and the
-- others are still created whole (an error out of the script kept the runs before it without their deferred index
-- entries and ring pushes: never claimed nor listed, while a retried createRun found them and answered 'exists').
deferRingPushes = true
local out = {}
for i = 0, nRuns - 1 do out[i + 1] = batchPart(createOne, 2 + 10 * i) end
flushDeferred()
return out
