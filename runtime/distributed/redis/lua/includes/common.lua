-- Shared helpers, inlined by the script loader (scripts.ts) wherever a script has an include line for this file.
-- Item states are packed, together with the item itself, as
--   status|attempt|deliveries|workerId|leaseToken|leaseExpiresAt|notBefore|updatedAt|expired|item JSON\nnode
-- (worker ids and lease tokens never contain '|'; the item JSON is canonical JSON, which never holds a raw newline,
-- and the node name is last so it may hold anything). Keeping the item in its state saves a hash write per added
-- item and a lookup per claim.

local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end

-- One pattern match splits the nine fixed fields, the item JSON and the node (much cheaper in Lua than a find/sub
-- loop).
local STATE_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^\n]*)\n(.*)$'
local function unpackState(s)
  local status, attempt, deliveries, worker, token, leaseExp, notBefore, updatedAt, expired, json, node = string.match(s, STATE_PATTERN)
  return {
    status = status, attempt = tonumber(attempt), deliveries = tonumber(deliveries),
    worker = worker, token = token, leaseExp = tonumber(leaseExp), notBefore = tonumber(notBefore),
    updatedAt = tonumber(updatedAt), expired = expired == '1', json = json, node = node,
  }
end

local function packState(st)
  return st.status .. '|' .. int(st.attempt) .. '|' .. int(st.deliveries) .. '|' .. st.worker .. '|' .. st.token .. '|'
    .. (st.leaseExp and int(st.leaseExp) or '') .. '|' .. (st.notBefore and int(st.notBefore) or '') .. '|'
    .. int(st.updatedAt) .. '|' .. (st.expired and '1' or '0') .. '|' .. st.json .. '\n' .. st.node
end

local function newState(node, json, now)
  return { status = 'pending', attempt = 1, deliveries = 0, worker = '', token = '', leaseExp = nil, notBefore = nil,
    updatedAt = now, expired = false, json = json, node = node }
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

-- The per-run key layout shared by create-run, commit and transition: KEYS[1..10] are the run's own keys,
-- KEYS[11] and KEYS[12] the global leases and delayed ZSETs.
local function runKeys()
  return {
    run = KEYS[1], states = KEYS[2], order = KEYS[3], ready = KEYS[4], tokens = KEYS[5],
    metrics = KEYS[6], deltas = KEYS[7], errors = KEYS[8], dead = KEYS[9], joins = KEYS[10],
    leases = KEYS[11], delayed = KEYS[12],
    all = { KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10] },
  }
end

-- The per-run keys of a run named in ARGV rather than KEYS (scripts that serve several runs in one call), in the
-- runKeys() layout. Each name is built on first use only (a commit usually needs a few of them, and building a key
-- string in Lua costs about as much as a cheap Redis call).
local RUN_PARTS = { 'states', 'order', 'ready', 'tokens', 'metrics', 'deltas', 'errors', 'dead', 'joins' }
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
-- counter: it is the size of the states hash (items are never removed while the run's keys exist).
-- Returns true when added.
local function addItem(K, prefix, runId, workflow, status, id, node, json, now)
  if redis.call('HSETNX', K.states, id, packState(newState(node, json, now))) == 0 then return false end
  redis.call('RPUSH', K.order, id)
  redis.call('RPUSH', K.ready, id)
  if status == 'running' then ringAdd(prefix, workflow, runId) end
  return true
end
