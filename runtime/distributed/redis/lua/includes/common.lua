-- Shared helpers, inlined by the script loader (scripts.ts) wherever a script has an include line for this file.
-- Item states are packed, together with the item itself, as
--   status|leaseToken|leaseExpiresAt|updatedAt|notBefore|deliveries|workerId|expired|attempt|seq|item JSON\nnode
-- (worker ids and lease tokens never contain '|'; the item JSON is canonical JSON, which never holds a raw newline,
-- and the node name is last so it may hold anything). Keeping the item in its state saves a hash write per added
-- item and a lookup per claim; `seq` (1, 2, ... in enqueue order, from the run hash's `n`) replaces a list of the
-- run's items in enqueue order, which only the rare whole-run reads need (they sort by it).

local function int(n)
  return string.format('%d', n)
end

-- The backend's now in epoch ms, as a number and as the decimal text stored everywhere (formatting a number costs
-- about as much as a Redis call in Lua, so scripts format now once).
local function nowMs()
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return ms, int(ms)
end

-- One pattern match splits the ten fixed fields, the item JSON and the node (much cheaper in Lua than a find/sub
-- loop). Every field stays text (leaseExp and notBefore '' when unset, expired '0' or '1'): scripts convert only the
-- fields they compute with, and packing is then one concatenation with no number formatting.
local STATE_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^\n]*)\n(.*)$'
local function unpackState(s)
  local status, token, leaseExp, updatedAt, notBefore, deliveries, worker, expired, attempt, seq, json, node = string.match(s, STATE_PATTERN)
  return {
    status = status, attempt = attempt, deliveries = deliveries, worker = worker, token = token, leaseExp = leaseExp,
    notBefore = notBefore, updatedAt = updatedAt, expired = expired, seq = seq, json = json, node = node,
  }
end

local function packState(st)
  return st.status .. '|' .. st.token .. '|' .. st.leaseExp .. '|' .. st.updatedAt .. '|' .. st.notBefore .. '|'
    .. st.deliveries .. '|' .. st.worker .. '|' .. st.expired .. '|' .. st.attempt .. '|' .. st.seq .. '|' .. st.json
    .. '\n' .. st.node
end

-- The hot paths (claim, a commit that completes its item) read and rewrite only the fields in front; the rest of
-- the state is kept as one capture (each capture costs a string, the dearest part of a match).
-- LEASE_PATTERN: status, token, leaseExp, and the state from deliveries on (an in-progress item has no notBefore).
local LEASE_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|[^|]*|[^|]*|(.*)$'
-- CLAIM_PATTERN: status, deliveries, expired, the state from attempt on, attempt, item JSON, node.
local CLAIM_PATTERN = '^([^|]*)|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|[^|]*|([^|]*)|(([^|]*)|[^|]*|([^\n]*)\n(.*))$'
-- DONE_PATTERN (on the state from deliveries on, as LEASE_PATTERN captures it): worker, attempt, node.
local DONE_PATTERN = '^[^|]*|([^|]*)|[^|]*|([^|]*)|[^|]*|[^\n]*\n(.*)$'

-- Seeing runs (runtime/engine/events.ts): every script that changes what a run reports publishes the event to the
-- stream P events; eventsMax 0 = no events. A stream entry holds one or more events as field pairs r = run id,
-- e = event JSON, in the order they happened. A script that publishes many events (a claim, a batch of commits or
-- of new runs) sets deferEvents and appends them all as one entry at its end (flushDeferred): an XADD of two events
-- costs about what one of one event costs. Others append each event at once.
-- A script sets eventsMax from its last argument before publishing. The stream keeps about eventsMax events: it is
-- trimmed by the first entry of each millisecond (its id ends in -0), not by every append (`XADD ... MAXLEN ~` costs
-- a third more than a bare XADD; at most a millisecond's entries go past the bound until the next trim), to
-- eventsMax over the events per entry, a moving average (P events:avg) that each trim updates with the entry it
-- follows: entries hold from one event to hundreds, and XTRIM counts entries.
local eventsMax = 0
local deferEvents = false
local eventsKey, eventFields = nil, {}
local function appendEvents(key, fields, from, to)
  local id = redis.call('XADD', key, '*', unpack(fields, from, to))
  if string.sub(id, -2) == '-0' then
    local n = (to - from + 1) / 4
    local avg = tonumber(redis.call('GET', key .. ':avg')) or n
    avg = avg + (n - avg) / 16
    redis.call('SET', key .. ':avg', string.format('%.3f', avg))
    redis.call('XTRIM', key, 'MAXLEN', '~', math.max(1, math.ceil(eventsMax / avg)))
  end
end
local function publish(prefix, runId, json)
  if eventsMax > 0 then
    if deferEvents then
      local n = #eventFields
      if n == 0 then eventsKey = prefix .. 'events' end
      eventFields[n + 1], eventFields[n + 2], eventFields[n + 3], eventFields[n + 4] = 'r', runId, 'e', json
    else
      appendEvents(prefix .. 'events', { 'r', runId, 'e', json }, 1, 4)
    end
  end
end

-- A lease token ends in "@<lease time>" ("<worker>#<seq>@<time>" from a claim, "<worker>#h<run>/<seq>@<time>" from a
-- hand-off): the time its attempt started (the step history's startedAt).
local function leaseStart(token, nowText)
  return string.match(token, '@(%d+)$') or nowText
end

local function startedJson(runId, itemId, node, attempt, worker, nowText)
  return '{"at":' .. nowText .. ',"attempt":' .. attempt .. ',"itemId":' .. cjson.encode(itemId) .. ',"node":'
    .. cjson.encode(node) .. ',"runId":' .. cjson.encode(runId) .. ',"type":"step.started","workerId":'
    .. cjson.encode(worker) .. '}'
end

-- Records one finished attempt in the run's step history (P run:{R}:steps) and publishes its event
-- (step.finished, or step.retry with delayMs). errorJson '' when there is none.
local function stepDone(prefix, stepsKey, runId, itemId, node, attempt, worker, startedAt, nowText, outcome, errorJson, delayMs)
  local common = ',"itemId":' .. cjson.encode(itemId) .. ',"node":' .. cjson.encode(node) .. ',"runId":'
    .. cjson.encode(runId) .. ',"startedAt":' .. startedAt .. ',"workerId":' .. cjson.encode(worker)
    .. (errorJson ~= '' and (',"error":' .. errorJson) or '')
  redis.call('RPUSH', stepsKey, '{"attempt":' .. attempt .. ',"finishedAt":' .. nowText .. ',"outcome":"' .. outcome .. '"' .. common .. '}')
  if outcome == 'retry' then
    publish(prefix, runId, '{"type":"step.retry","at":' .. nowText .. ',"attempt":' .. attempt .. ',"delayMs":' .. delayMs .. common .. '}')
  else
    publish(prefix, runId, '{"type":"step.finished","at":' .. nowText .. ',"attempt":' .. attempt .. ',"outcome":"' .. outcome .. '"' .. common .. '}')
  end
end

-- Adds n to a count in a hash (a run's metric m:<name>, a schedule's skipped ticks). Scripts count after they have
-- written, and a Lua error keeps the writes before it: a count a stray write made no integer stays as it is (read
-- back as NaN) instead of failing the script half-way (redis.pcall answers the error instead of raising it).
local function bump(key, field, n)
  redis.pcall('HINCRBY', key, field, n)
end

-- A new item's packed state (pending, attempt 1); nowText and seq are decimal text. A parked item's (parked.lua)
-- is at the attempt it parked at, with the deliveries of the attempts before it (runtime/engine/commit.ts
-- PlannedItem.attempt): `deliveries` and `attempt` as decimal text, both or neither.
local function newState(node, json, nowText, seq, deliveries, attempt)
  return 'pending|||' .. nowText .. '||' .. (deliveries or '0') .. '||0|' .. (attempt or '1') .. '|' .. seq .. '|' .. json .. '\n' .. node
end

-- Whether the item is in progress under a lease that has not expired at now (a number).
local function leaseLive(st, now)
  return st.status == 'in_progress' and st.leaseExp ~= '' and tonumber(st.leaseExp) > now
end

local function isFinal(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled'
end

local function isOutstanding(status)
  return status == 'pending' or status == 'in_progress' or status == 'waiting_retry' or status == 'parked'
end

-- Member of the global leases / delayed ZSETs (run ids and item ids never contain a newline).
local function queueMember(runId, itemId)
  return runId .. '\n' .. itemId
end

-- Puts a ring (see ringOf) on the ring of rings (once; wfset never shrinks). create-run does it for every new run,
-- so every run that can reach a ring has its ring there already.
local function workflowAdd(prefix, ring)
  if redis.call('SADD', prefix .. 'wfset', ring) == 1 then
    redis.call('RPUSH', prefix .. 'wfring', ring)
  end
end

-- Ring membership needs no set: a running run is on its workflow's round-robin ring exactly when its ready list is
-- not empty (claim pops the run with an item and puts it back only while items remain). So whoever makes a running
-- run's ready list go from empty to one item puts the run on the ring; a paused or finished run may linger on the
-- ring until a claim drops it, and resume checks the ring before putting the run back (see transition).
-- Writes that a script sends once per command and key at its end (flushDeferred), grouped in the order they were
-- first made: each Redis call costs about as much as the work it does, and a batch script makes many of the same
-- kind. Only for writes nothing later in the same script reads back (lease entries, ring pushes, index entries), and
-- whose order between different commands on one key does not matter (e.g. a ZREM and a ZADD of other members).
local deferred, deferredIds = {}, {}
local function defer(command, key, x, y)
  local id = command .. ' ' .. key
  local d = deferred[id]
  if not d then
    d = { command = command, key = key, args = {} }
    deferred[id] = d
    deferredIds[#deferredIds + 1] = id
  end
  local args = d.args
  args[#args + 1] = x
  if y then args[#args + 1] = y end
end
local function flushDeferred()
  for _, id in ipairs(deferredIds) do
    local d = deferred[id]
    -- in slices of 1000 arguments: unpack() of a longer list could overflow the Lua stack
    for from = 1, #d.args, 1000 do redis.call(d.command, d.key, unpack(d.args, from, math.min(from + 999, #d.args))) end
  end
  deferred, deferredIds = {}, {}
  -- the deferred events, in entries of at most 250 (unpack() of a longer list could overflow the Lua stack)
  for from = 1, #eventFields, 1000 do appendEvents(eventsKey, eventFields, from, math.min(from + 999, #eventFields)) end
  eventFields = {}
end

-- What is deferred so far (deferMark), and the undoing of everything deferred after such a mark (deferRollback): a
-- batch script runs each part under pcall and, when one fails, drops that part's deferred writes and events (the
-- writes it made before the error stay: each part checks what can fail before its first write where it can).
local function deferMark()
  local lengths = {}
  for i, id in ipairs(deferredIds) do lengths[i] = #deferred[id].args end
  return { ids = #deferredIds, lengths = lengths, events = #eventFields }
end
local function deferRollback(mark)
  for i = #deferredIds, mark.ids + 1, -1 do
    deferred[deferredIds[i]] = nil
    deferredIds[i] = nil
  end
  for i = 1, mark.ids do
    local args = deferred[deferredIds[i]].args
    for j = #args, mark.lengths[i] + 1, -1 do args[j] = nil end
  end
  for j = #eventFields, mark.events + 1, -1 do eventFields[j] = nil end
end

-- The text of an error caught by pcall: redis.call raises a table { err = text }, Lua itself a string.
local function errorText(e)
  if type(e) == 'table' and e.err then return e.err end
  return tostring(e)
end

-- One part of a batch script, f(arg), under pcall: its reply, or { 'error', text } with the writes and events it
-- deferred dropped (deferMark / deferRollback), so the other parts still apply whole.
local function batchPart(f, arg)
  local mark = deferMark()
  local ok, reply = pcall(f, arg)
  if ok then return reply end
  deferRollback(mark)
  return { 'error', errorText(reply) }
end

-- Set by a script that defers its ring pushes (and then calls flushDeferred before it returns).
local deferRingPushes = false
-- The ring of a workflow version (P ring:<ring>): running runs of workflow W at graph fingerprint F with ready work.
-- Claims that serve given versions read only their rings, so runs of other versions cost them nothing.
local function ringOf(workflow, fingerprint)
  return workflow .. '@' .. fingerprint
end

local function ringPush(prefix, ring, runId)
  if deferRingPushes then
    defer('RPUSH', prefix .. 'ring:' .. ring, runId)
  else
    redis.call('RPUSH', prefix .. 'ring:' .. ring, runId)
  end
end

-- Moves a run between the status indexes used by listRuns.
local function indexStatus(prefix, runId, createdAt, from, to)
  if from then redis.call('ZREM', prefix .. 'runs:status:' .. from, runId) end
  redis.call('ZADD', prefix .. 'runs:status:' .. to, createdAt, runId)
end

-- The per-run key layout of transition (and of runKeysOf below): KEYS[1..8] are the run's own keys,
-- KEYS[9] and KEYS[10] the global leases and delayed ZSETs. The run hash holds, besides the run record, the
-- outstanding-item count `outstanding`, the number of items ever added `n`, the context version `v`, the deltas
-- `d:<version>` (`itemId\ndelta JSON`) with a copy of the latest in `last`, the fixed metrics `m:<name>` (but
-- `completed`, which is the run's tally of completed items), `tallied` ('1': its tally P run:{R}:tally counts every
-- item) and `indexed` ('1': P run:{R}:open indexes its outstanding items; see putState); so a step reads and writes
-- one key where it used to touch five.
local function runKeys()
  return {
    run = KEYS[1], states = KEYS[2], ready = KEYS[3], tokens = KEYS[4], counters = KEYS[5], errors = KEYS[6],
    dead = KEYS[7], joins = KEYS[8], leases = KEYS[9], delayed = KEYS[10], tally = KEYS[1] .. ':tally',
    open = KEYS[1] .. ':open',
  }
end

-- The per-run keys of a run named in ARGV rather than KEYS (commit serves several runs in one call; create-run saves
-- passing them), in the runKeys() layout. Each name is built on first use only (a commit usually needs a few of them, and building a key
-- string in Lua costs about as much as a cheap Redis call).
local runKeysMeta = {
  __index = function(K, name)
    local v = K.run .. ':' .. name
    rawset(K, name, v)
    return v
  end,
}
local function runKeysOf(prefix, runId, leasesKey, delayedKey)
  return setmetatable({ run = prefix .. 'run:{' .. runId .. '}', leases = leasesKey, delayed = delayedKey }, runKeysMeta)
end

-- The lazily built per-run keys (runKeysOf's) of the run whose hash is the key R.
local function runKeysAt(R)
  return setmetatable({ run = R }, runKeysMeta)
end

-- Whether run K is tallied (its run hash field `tallied` is '1': P run:{R}:tally counts every item, see putState):
-- K.tallied when the caller read it with the run record, else read here once per script and run. (rawget: runKeysMeta
-- makes any other field of K a key name.)
local function tallied(K)
  local t = rawget(K, 'tallied')
  if t == nil then
    t = redis.call('HGET', K.run, 'tallied') == '1'
    rawset(K, 'tallied', t)
  end
  return t
end

-- Every write of an item state goes through putState, which keeps two things in step with the states hash, so that a
-- run page reads neither through it: the run's tally (K.tally, P run:{R}:tally, HASH: how many of the run's items came
-- in each state and node, and how many moved from one to another, one field each: tallyCounts below reads it as a
-- count per node and status) and its index of outstanding items (K.open,
-- P run:{R}:open, ZSET item id scored by its enqueue seq: pending, in progress, waiting for a retry or parked; the
-- first of them in enqueue order without a pass). `K` holds the run's keys (runKeysOf, runKeysAt); `from` is the status
-- the item had (nil for a new item: then the state is written only if the run does not know the id yet, HSETNX, and
-- `seq` is its enqueue seq; false for a state that could not be read, which nothing counted), `to` its new status,
-- `node` its node (`fromNode` the one it had, when a version move renamed it). Both are kept only for a run that
-- has them, as the flags in its run hash say (`tallied`, `indexed`): a run is tallied and indexed by the commit that
-- takes it to INDEX_FROM items (trackRun), and tallied by its first count (item-counts-3.lua counts an untallied run
-- once, whole, and marks it), so a short run (a chain of a few steps) pays for neither; its counts and outstanding
-- items are read with a pass over its few states. A run of a floxide before tallies is counted the same way (and one
-- whose tally does not add up to its items: a process of that floxide added some); nor has it an
-- `indexed` field, and its outstanding items are read with a pass (outstanding-items-4.lua), as are those of a run
-- with fewer than INDEX_FROM items: the index is kept (K.indexed true: the caller read the run's `indexed` field; read
-- with rawget, since runKeysMeta makes any other field a key name) from the
-- commit that takes the run to INDEX_FROM items on (indexRun). Returns false when a new item's id was known (nothing
-- written).
local function putState(K, id, packed, node, from, to, seq, fromNode)
  if from == nil then
    if redis.call('HSETNX', K.states, id, packed) == 0 then return false end
    if rawget(K, 'indexed') == true then redis.call('ZADD', K.open, seq, id) end
  else
    redis.call('HSET', K.states, id, packed)
    if rawget(K, 'indexed') == true and from and isOutstanding(from) and not isOutstanding(to) then redis.call('ZREM', K.open, id) end
  end
  -- one HINCRBY per change (see tallyCounts), once the run is tallied: a new item (or one whose state could not be
  -- read) counts in its state, a move counts once as a move
  if not from then
    if tallied(K) then redis.call('HINCRBY', K.tally, to .. '\n' .. node, 1) end
  elseif (from ~= to or (fromNode and fromNode ~= node)) and tallied(K) then
    redis.call('HINCRBY', K.tally, to .. '\n' .. node .. '\n' .. from .. ((fromNode and fromNode ~= node) and '\n' .. fromNode or ''), 1)
  end
  return true
end

-- A run is tallied and indexed (its items counted per state and node in P run:{R}:tally, its outstanding ones in P
-- run:{R}:open) once it has this many items: a smaller run's counts and outstanding items are read with a pass over
-- its states (item-counts-3.lua, outstanding-items-4.lua), which costs less than keeping them at every step (an
-- HINCRBY per change of state, a ZADD and a ZREM per item, the keys made and dropped with each short run).
local INDEX_FROM = 1000

-- Calls `command key args...` with `args` in slices of 2,000 (pairs stay whole: unpack() of a longer list overflows the
-- Lua stack).
local function callInSlices(command, key, args)
  for from = 1, #args, 2000 do redis.call(command, key, unpack(args, from, math.min(from + 1999, #args))) end
end

-- The tally of packed item states (values of a states hash) as counts per "status\nnode": `fields` (field, count, ...
-- in first-seen order: what a tally hash holds for them) and the first state that cannot be read (not counted).
local function countStates(packed)
  local counts, order, corrupt = {}, {}, nil
  for i = 1, #packed do
    -- the status is the first field; the node follows the last newline (canonical item JSON holds no raw newline)
    local st, node = string.match(packed[i], '^([^|\n]*)|.*\n([^\n]*)$')
    if st then
      local field = st .. '\n' .. node
      if counts[field] == nil then order[#order + 1] = field end
      counts[field] = (counts[field] or 0) + 1
    else
      corrupt = corrupt or packed[i]
    end
  end
  local fields = {}
  for _, field in ipairs(order) do
    fields[#fields + 1] = field
    fields[#fields + 1] = counts[field]
  end
  return fields, corrupt
end

-- Tallies and indexes run K where it is not yet (K.tallied, K.indexed false: putState kept neither), with one pass
-- over its states, and marks it: putState keeps both from then on (a commit calls it before writing its states, when
-- the run reaches INDEX_FROM items). A state that cannot be read is not counted, as item-counts does not count it
-- (a tally that then does not add up to the run's items is counted again by the next count).
local function trackRun(K)
  local all = redis.call('HGETALL', K.states)
  if not K.indexed then
    local open = {}
    for i = 1, #all, 2 do
      local st, seq = string.match(all[i + 1], '^([^|]*)|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|')
      if st and isOutstanding(st) and tonumber(seq) then
        open[#open + 1] = seq
        open[#open + 1] = all[i]
      end
    end
    callInSlices('ZADD', K.open, open)
  end
  if not K.tallied then
    local packed = {}
    for i = 2, #all, 2 do packed[#packed + 1] = all[i] end
    redis.call('DEL', K.tally)
    callInSlices('HSET', K.tally, (countStates(packed)))
  end
  redis.call('HSET', K.run, 'indexed', '1', 'tallied', '1')
  K.indexed, K.tallied = true, true
end

-- A run's tally (the HGETALL of P run:{R}:tally, or fields and counts as item-counts writes them) as the number of its
-- items in each state: `counts` ("status\nnode" -> items), `order` (those fields, first seen first) and `items` (how
-- many items it counts in all: a tally kept right counts every item of the run). Its fields are of two kinds (putState
-- writes one per change of state, not two): "status\nnode", items that came in that state (added to the run, or counted
-- whole by item-counts), and "to\nnode\nfrom" or "to\nnode\nfrom\nfromNode" (a version move's rename), items that moved
-- from one state to another, which count in the first and against the second.
local function tallyCounts(raw)
  local counts, order, items = {}, {}, 0
  local function add(field, n)
    local c = counts[field]
    if c == nil then order[#order + 1] = field end
    counts[field] = (c or 0) + n
  end
  for i = 1, #raw, 2 do
    local f, n = raw[i], tonumber(raw[i + 1]) or 0
    local a = string.find(f, '\n', 1, true)
    local b = a and string.find(f, '\n', a + 1, true)
    if not b then
      add(f, n)
      items = items + n
    else
      local c = string.find(f, '\n', b + 1, true)
      add(string.sub(f, 1, b - 1), n)
      if c then add(string.sub(f, b + 1, c - 1) .. '\n' .. string.sub(f, c + 1), -n)
      else add(string.sub(f, b + 1) .. '\n' .. string.sub(f, a + 1, b - 1), -n) end
    end
  end
  return counts, order, items
end

-- The run record fields, in the order RedisBackend reads them (RUN_FIELDS in keys.ts).
local RUN_FIELDS = { 'workflow', 'fingerprint', 'status', 'input', 'createdAt', 'updatedAt', 'finishedAt', 'deadline',
  'output', 'error', 'dropped', 'traceparent', 'startedOn', 'migratedAt' }

-- Adds a new item (pending, attempt 1 unless `deliveries` and `attempt` say otherwise as newState takes them,
-- enqueue sequence `seq`, decimal text like nowText) unless the run already knows its id, WITHOUT
-- counting it: the caller adds the number added to the run's `outstanding` and `n` (once, for all the items it
-- adds). The `enqueued` metric needs no counter: it is the size of the states hash (items are never removed while
-- the run's keys exist). Returns true when added.
local function addItem(K, prefix, runId, ring, status, id, node, json, nowText, seq, deliveries, attempt)
  if not putState(K, id, newState(node, json, nowText, seq, deliveries, attempt), node, nil, 'pending', seq) then return false end
  if redis.call('RPUSH', K.ready, id) == 1 and status == 'running' then ringPush(prefix, ring, runId) end
  return true
end
