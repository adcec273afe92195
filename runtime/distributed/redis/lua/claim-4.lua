--[[
  claim: leases up to max claimable items, serving runs round-robin (one item per run per turn).
  First moves expired leases (redeliveries), due retries and parked items whose time came (a sleep's end, a wait's
  timeout; includes/parked.lua) back to their run's ready list, oldest first (bounded): timers fire here, once.
  Each turn pops a run from a ring (one per workflow version, see ringOf in includes/common.lua), leases the run's
  oldest ready item, and puts the run back at the tail while it has more. A claim filtered by workflow and
  fingerprints reads only those versions' rings: runs of other versions cost it nothing.

  Input:
    KEYS[1] leases ZSET (member "runId\nitemId", score lease expiry)
    KEYS[2] delayed ZSET (member "runId\nitemId", score notBefore: retries and parked items)
    KEYS[3] wfring LIST (the rings "W@F", rotated for fairness between them; a bare "W" is a ring written before rings were per version)
    KEYS[4] lease token counter STRING
    ARGV[1] key prefix P
    ARGV[2] worker id
    ARGV[3] max (positive integer)
    ARGV[4] lease ms (positive integer)
    ARGV[5] workflow filter ('' = every workflow)
    ARGV[6] events to keep in the stream, about (0 = no events)
    ARGV[7] fingerprint filter: comma-separated graph fingerprints of the ARGV[5] workflow ('' = every version)

  Keys derived from P and a run id R (of a member of KEYS[1]/KEYS[2], or popped from a ring):
    P run:{R}            HASH  status, workflow, fingerprint, deadline, traceparent, v, last, context, m:redeliveries
    P run:{R}:states     HASH  item states
    P run:{R}:tally      HASH  items per state and node, as moves (tallyCounts) (includes/common.lua putState)
    P run:{R}:open       ZSET  outstanding item ids by enqueue seq (includes/common.lua putState; a claim changes none)
    P run:{R}:ready      LIST  claimable item ids
    P run:{R}:wait:<n>   LIST  parked waits for signal n (a wait that timed out leaves it)
  and for a ring W@F listed in KEYS[3]:
    P ring:W@F           LIST  running runs of workflow W at fingerprint F with ready items
    P events             STREAM step.started per leased item, timer.fired / wait.timedOut per woken parked item
    P events:avg         STRING events per stream entry, the trims' moving average (includes/common.lua)

  Output: a flat array, six entries per leased item (empty when nothing is claimable):
    workflow
    fingerprint
    "runId\nitemId\nnode\ndeadline|''\ntraceparent|''\nattempt\nleaseToken\nleaseExpiresAt\ndeliveries\ncontextVersion"
    item JSON, as stored (decoded per item by the backend: a corrupt one fails only its item)
    initial context JSON, only while contextVersion <= 1, else ''
    "last delta itemId\ndelta JSON", only when contextVersion > 0, else ''
  or an error, when Redis refuses a command (a key of the wrong type): the items leased before it keep their lease
  entries, so they are redelivered when their leases expire
]]
--! include common.lua
--! include parked.lua

local prefix, workerId, maxItems, leaseMs, onlyWorkflow, onlyVersions = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[7]
eventsMax = tonumber(ARGV[6])
deferEvents = true -- one stream entry for all of this call's events (flushDeferred)
local now, nowText = nowMs()
-- every lease of this call expires at the same time: its text is formatted once
local leaseExp = int(now + leaseMs)
local PROMOTE_LIMIT = 1000

local function runKey(runId) return prefix .. 'run:{' .. runId .. '}' end

-- 1. promote due work, oldest first
local function due(key, kind)
  local raw = redis.call('ZRANGEBYSCORE', key, '-inf', nowText, 'WITHSCORES', 'LIMIT', 0, PROMOTE_LIMIT)
  local out = {}
  for i = 1, #raw, 2 do out[#out + 1] = { member = raw[i], at = tonumber(raw[i + 1]), kind = kind, key = key } end
  return out
end
local promote = due(KEYS[1], 'lease')
for _, d in ipairs(due(KEYS[2], 'retry')) do promote[#promote + 1] = d end
table.sort(promote, function(a, b) return a.at < b.at end)
for _, d in ipairs(promote) do
  redis.call('ZREM', d.key, d.member)
  local nl = string.find(d.member, '\n', 1, true)
  local runId, itemId = string.sub(d.member, 1, nl - 1), string.sub(d.member, nl + 1)
  local R = runKey(runId)
  local K = runKeysAt(R)
  local s = redis.call('HGET', K.states, itemId)
  local st = s and unpackState(s)
  if st and st.status == nil then
    -- not a packed state (a stray write): made ready, so that the lease below fails it and its run (see there)
    if redis.call('RPUSH', R .. ':ready', itemId) == 1 then
      local meta = redis.call('HMGET', R, 'status', 'workflow', 'fingerprint')
      if meta[1] == 'running' then ringPush(prefix, ringOf(meta[2], meta[3]), runId) end
    end
  elseif st then
    if (d.kind == 'lease' and st.status == 'in_progress') or (d.kind == 'retry' and (st.status == 'waiting_retry' or st.status == 'parked')) then
      if d.kind == 'lease' then st.expired = '1' end
      if st.status == 'parked' then wakeParked(R, prefix, runId, itemId, st, nowText) end
      local from = st.status
      st.status = 'pending'
      st.token = ''
      st.leaseExp = ''
      st.notBefore = ''
      st.updatedAt = nowText
      putState(K, itemId, packState(st), st.node, from, 'pending')
      if redis.call('RPUSH', R .. ':ready', itemId) == 1 then
        local meta = redis.call('HMGET', R, 'status', 'workflow', 'fingerprint')
        if meta[1] == 'running' then ringPush(prefix, ringOf(meta[2], meta[3]), runId) end
      end
    end
  end
end

-- 2. lease one item of the next run on a workflow's ring (tokens: one INCRBY reserves max sequence numbers)
local seqNext = redis.call('INCRBY', KEYS[4], maxItems) - maxItems
-- The length of each workflow's ring, read once per call and then kept up to date here (the script is atomic).
local ringLength = {}
local function claimFromRing(workflow)
  local ring = prefix .. 'ring:' .. workflow
  local n = ringLength[workflow] or redis.call('LLEN', ring)
  for _ = 1, n do
    local runId = redis.call('LPOP', ring)
    if not runId then break end
    n = n - 1
    local R = runKey(runId)
    local meta = redis.call('HMGET', R, 'status', 'fingerprint', 'deadline', 'v', 'last', 'traceparent', 'tallied')
    if meta[1] == 'running' then
      local ready = R .. ':ready'
      local K = runKeysAt(R)
      K.tallied = meta[7] == '1'
      while true do
        local itemId = redis.call('LPOP', ready)
        if not itemId then break end
        local s = redis.call('HGET', K.states, itemId)
        local status, deliveries, expired, rest, attempt, json, node
        if s then status, deliveries, expired, rest, attempt, json, node = string.match(s, CLAIM_PATTERN) end
        -- the status the run's tally counts the item in (none for a state that cannot be read)
        local from = status or false
        if s and not status then
          -- Not a packed state (a stray write): leased as an item of node '?' whose JSON is that text, which the
          -- backend cannot decode, so the worker fails the item and its run (CorruptStateError) instead of the item
          -- silently leaving the ready list and its run waiting for ever. (Its state is rewritten well-formed.)
          status, deliveries, expired, attempt, node = 'pending', '0', '0', '1', '?'
          json = string.gsub(s, '\n', ' ')
          rest = attempt .. '|0|' .. json .. '\n' .. node
        end
        if status == 'pending' then
          if redis.call('LLEN', ready) > 0 then
            redis.call('RPUSH', ring, runId)
            n = n + 1
          end
          ringLength[workflow] = n
          if expired == '1' then bump(R, 'm:redeliveries', 1) end
          deliveries = deliveries == '0' and '1' or int(tonumber(deliveries) + 1)
          seqNext = seqNext + 1
          local token = workerId .. '#' .. int(seqNext) .. '@' .. nowText
          putState(K, itemId,
            'in_progress|' .. token .. '|' .. leaseExp .. '|' .. nowText .. '||' .. deliveries .. '|' .. workerId .. '|0|' .. rest, node, from, 'in_progress')
          defer('ZADD', KEYS[1], leaseExp, queueMember(runId, itemId))
          publish(prefix, runId, startedJson(runId, itemId, node, attempt, workerId, nowText))
          local version = meta[4] or '0'
          local young = version == '0' or version == '1'
          return meta[2], runId .. '\n' .. itemId .. '\n' .. node .. '\n' .. (meta[3] or '') .. '\n' .. (meta[6] or '') .. '\n' .. attempt .. '\n' .. token
            .. '\n' .. leaseExp .. '\n' .. deliveries .. '\n' .. version, json, (young and redis.call('HGET', R, 'context') or ''),
            (version ~= '0' and meta[5] or '')
        end
      end
    end
    -- paused, finished, expired or out of ready work: off the ring (resume / enqueue put it back)
  end
  ringLength[workflow] = 0
  return nil
end

-- A ring written before rings were per version ("W": every version of W): its runs move to their versions' rings.
local function moveLegacyRing(workflow)
  local legacy = prefix .. 'ring:' .. workflow
  while true do
    local runId = redis.call('LPOP', legacy)
    if not runId then break end
    local meta = redis.call('HMGET', runKey(runId), 'status', 'fingerprint')
    if meta[1] == 'running' and meta[2] then
      workflowAdd(prefix, ringOf(workflow, meta[2]))
      redis.call('RPUSH', prefix .. 'ring:' .. ringOf(workflow, meta[2]), runId)
    end
  end
end

local workflows
if onlyWorkflow ~= '' then
  if redis.call('SISMEMBER', prefix .. 'wfset', onlyWorkflow) == 1 then moveLegacyRing(onlyWorkflow) end
  workflows = {}
  if onlyVersions ~= '' then
    for fingerprint in string.gmatch(onlyVersions, '[^,]+') do workflows[#workflows + 1] = ringOf(onlyWorkflow, fingerprint) end
  else
    local mine = onlyWorkflow .. '@'
    for _, ring in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
      if string.sub(ring, 1, #mine) == mine then workflows[#workflows + 1] = ring end
    end
  end
else
  workflows = {}
  for _, ring in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
    if string.find(ring, '@', 1, true) then workflows[#workflows + 1] = ring else moveLegacyRing(ring) end
  end
  if #workflows > 1 then redis.call('LMOVE', KEYS[3], KEYS[3], 'LEFT', 'RIGHT') end
end

local out = {}
local claimed = 0
local active = workflows
local function leaseAll()
  while claimed < maxItems and #active > 0 do
    local nextActive = {}
    for _, wf in ipairs(active) do
      if claimed >= maxItems then break end
      local fingerprint, head, json, context, last = claimFromRing(wf)
      if fingerprint then
        local o = 6 * claimed
        out[o + 1] = string.sub(wf, 1, string.find(wf, '@', 1, true) - 1)
        out[o + 2] = fingerprint
        out[o + 3] = head
        out[o + 4] = json
        out[o + 5] = context or ''
        out[o + 6] = last or ''
        claimed = claimed + 1
        nextActive[#nextActive + 1] = wf
      end
    end
    active = nextActive
  end
end
-- A Lua error keeps the writes before it: the items leased so far are in progress, so their lease entries (deferred)
-- go out even when a later run fails the claim (a key a stray write made of the wrong type), and they are redelivered
-- when their leases expire (without them they stayed in progress for ever).
local ok, e = pcall(leaseAll)
flushDeferred()
if not ok then return redis.error_reply(errorText(e)) end
return out
