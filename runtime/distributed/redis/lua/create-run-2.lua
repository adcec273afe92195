-- create-run: atomically creates a run record, its initial context and its first item (or finds the same run).
-- KEYS[1] runs index ZSET (createdAt), KEYS[2] runs:expiring ZSET (pruned here, bounded)
-- (the run's own keys are derived from the prefix and the run id, like the commit script's: every key passed costs
-- the client a write and the server an object, and a run is created once per run)
-- ARGV[1] key prefix, ARGV[2] run id, ARGV[3] workflow, ARGV[4] fingerprint, ARGV[5] canonical input JSON,
-- ARGV[6] initial context JSON, ARGV[7] first item id, ARGV[8] first item node, ARGV[9] first item JSON,
-- ARGV[10] deadline (epoch ms) or ''
-- Returns { 'created', createdAt } (the new record is exactly the arguments: the caller builds it), or
-- { code, ...RUN_FIELDS values } of the stored run with code 'exists' | 'workflow_mismatch' | 'fingerprint_mismatch' |
-- 'input_mismatch'
--! include common.lua

local prefix, runId, workflow, fingerprint, input = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local K = runKeysOf(prefix, runId)
local now, nowText = nowMs()

local function record(code)
  local r = redis.call('HMGET', K.run, unpack(RUN_FIELDS))
  table.insert(r, 1, code)
  return r
end

local existing = redis.call('HMGET', K.run, 'workflow', 'fingerprint', 'input')
if existing[1] then
  if existing[1] ~= workflow then return record('workflow_mismatch') end
  if existing[2] ~= fingerprint then return record('fingerprint_mismatch') end
  if existing[3] ~= input then return record('input_mismatch') end
  return record('exists')
end

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

local fields = { 'workflow', workflow, 'fingerprint', fingerprint, 'status', 'running', 'input', input,
  'context', ARGV[6], 'createdAt', nowText, 'updatedAt', nowText, 'outstanding', '1', 'n', '1' }
if ARGV[10] ~= '' then fields[#fields + 1] = 'deadline'; fields[#fields + 1] = ARGV[10] end
redis.call('HSET', K.run, unpack(fields))
redis.call('ZADD', KEYS[1], nowText, runId)
redis.call('ZADD', prefix .. 'runs:workflow:' .. workflow, nowText, runId)
indexStatus(prefix, runId, nowText, nil, 'running')
workflowAdd(prefix, workflow)
-- a new run knows no item yet, so the first one is always added (and counted in `outstanding` and `n` above)
addItem(K, prefix, runId, workflow, 'running', ARGV[7], ARGV[8], ARGV[9], nowText, '1')
return { 'created', now }
