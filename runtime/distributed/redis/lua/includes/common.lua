-- Shared helpers, inlined by the script loader (scripts.ts) wherever a script has an include line for this file.
-- Item states are packed as
--   status|attempt|deliveries|workerId|leaseToken|leaseExpiresAt|notBefore|updatedAt|expired|node
-- (worker ids and lease tokens never contain '|'; the node name is last so it may).

local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end

-- One pattern match splits the nine fixed fields and the node (much cheaper in Lua than a find/sub loop).
local STATE_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$'
local function unpackState(s)
  local status, attempt, deliveries, worker, token, leaseExp, notBefore, updatedAt, expired, node = string.match(s, STATE_PATTERN)
  return {
    status = status, attempt = tonumber(attempt), deliveries = tonumber(deliveries),
    worker = worker, token = token, leaseExp = tonumber(leaseExp), notBefore = tonumber(notBefore),
    updatedAt = tonumber(updatedAt), expired = expired == '1', node = node,
  }
end

local function packState(st)
  return st.status .. '|' .. int(st.attempt) .. '|' .. int(st.deliveries) .. '|' .. st.worker .. '|' .. st.token .. '|'
    .. (st.leaseExp and int(st.leaseExp) or '') .. '|' .. (st.notBefore and int(st.notBefore) or '') .. '|'
    .. int(st.updatedAt) .. '|' .. (st.expired and '1' or '0') .. '|' .. st.node
end

local function newState(node, now)
  return { status = 'pending', attempt = 1, deliveries = 0, worker = '', token = '', leaseExp = nil, notBefore = nil,
    updatedAt = now, expired = false, node = node }
end

local function isFinal(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled'
end

local function isOutstanding(status)
  return status == 'pending' or status == 'in_progress' or status == 'waiting_retry'
end

-- Member of the global leases / delayed ZSETs (run ids and item ids never contain a newline).
local function queueMember(runId, itemId)
  return runId .. '\n' .. itemId
end

-- Puts a workflow on the ring of workflows (once; wfset never shrinks). create-run does it for every new run, so
-- every run that can reach a ring has its workflow there already.
local function workflowAdd(prefix, workflow)
  if redis.call('SADD', prefix .. 'wfset', workflow) == 1 then
    redis.call('RPUSH', prefix .. 'wfring', workflow)
  end
end

-- Puts a running run with claimable work on its workflow's round-robin ring (once).
local function ringAdd(prefix, workflow, runId)
  if redis.call('SADD', prefix .. 'ringset:' .. workflow, runId) == 1 then
    redis.call('RPUSH', prefix .. 'ring:' .. workflow, runId)
  end
end

-- Moves a run between the status indexes used by listRuns.
local function indexStatus(prefix, runId, createdAt, from, to)
  if from then redis.call('ZREM', prefix .. 'runs:status:' .. from, runId) end
  redis.call('ZADD', prefix .. 'runs:status:' .. to, createdAt, runId)
end

-- The per-run key layout shared by create-run, commit and transition: KEYS[1..11] are the run's own keys,
-- KEYS[12] and KEYS[13] the global leases and delayed ZSETs.
local function runKeys()
  return {
    run = KEYS[1], items = KEYS[2], states = KEYS[3], order = KEYS[4], ready = KEYS[5], tokens = KEYS[6],
    metrics = KEYS[7], deltas = KEYS[8], errors = KEYS[9], dead = KEYS[10], joins = KEYS[11],
    leases = KEYS[12], delayed = KEYS[13],
    all = { KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11] },
  }
end

-- The per-run keys of a run named in ARGV rather than KEYS (scripts that serve several runs in one call), in the
-- runKeys() layout. Each name is built on first use only (a commit usually needs a few of them, and building a key
-- string in Lua costs about as much as a cheap Redis call).
local RUN_PARTS = { 'items', 'states', 'order', 'ready', 'tokens', 'metrics', 'deltas', 'errors', 'dead', 'joins' }
local runKeysMeta = {
  __index = function(K, name)
    local v
    if name == 'all' then
      v = { K.run }
      for _, part in ipairs(RUN_PARTS) do v[#v + 1] = K[part] end
    else
      v = K.run .. ':' .. name
    end
    rawset(K, name, v)
    return v
  end,
}
local function runKeysOf(prefix, runId, leasesKey, delayedKey)
  return setmetatable({ run = prefix .. 'run:{' .. runId .. '}', leases = leasesKey, delayed = delayedKey }, runKeysMeta)
end

-- The run record fields, in the order RedisBackend reads them (RUN_FIELDS in keys.ts).
local RUN_FIELDS = { 'workflow', 'fingerprint', 'status', 'input', 'createdAt', 'updatedAt', 'finishedAt', 'deadline',
  'output', 'error', 'dropped' }

-- Adds a new item (pending, attempt 1) unless the run already knows its id, WITHOUT counting it: the caller adds
-- the number added to the run's `outstanding` (once, for all the items it adds). The `enqueued` metric needs no
-- counter: it is the size of the items hash (items are never removed while the run's keys exist).
-- Returns true when added.
local function addItem(K, prefix, runId, workflow, status, id, node, json, now)
  if redis.call('HSETNX', K.items, id, json) == 0 then return false end
  redis.call('HSET', K.states, id, packState(newState(node, now)))
  redis.call('RPUSH', K.order, id)
  redis.call('RPUSH', K.ready, id)
  if status == 'running' then ringAdd(prefix, workflow, runId) end
  return true
end
