--[[
  commit: applies a batch of step commits, one after the other. Each commit is atomic and idempotent on its own and
  only makes atomic what the engine planned (runtime/engine/commit.ts): ack, enqueue the planned items, park the
  planned parked items (waits and sleeps, includes/parked.lua) and arrivals, append the delta, item state, metrics, errors, and finish the run (terminal, failed, or the
  planned no-terminal error when nothing is outstanding). The whole batch is one script: no other client sees a
  half-applied commit.

  Input:
    KEYS[1] leases ZSET (member "runId\nitemId", score lease expiry)
    KEYS[2] delayed ZSET (member "runId\nitemId", score notBefore)
    ARGV[1] key prefix P
    ARGV[2] retainFinishedMs (0 = keep forever)
    ARGV[3] events to keep in the stream, about (0 = no events)
    ARGV[4] number of commits; then per commit:
      header      "runId\nitemId\nleaseToken\ntype\nnCounters\nnItems\nnArrivals\nnParked\nhandoffWorker\nhandoffMs\nhandoffVersion"
                  (type continue | terminal | retry | failed; handoffWorker and handoffMs '' unless a hand-off is asked;
                  handoffVersion: the fingerprint the run must still have for the hand-off, '' = any)
      continue:   delta JSON or '', no-terminal error JSON, the failure its fallbacks took (or the signal its wait refused)
                  JSON or '', that error's kind (fallback | signal)
      terminal:   delta JSON or '', output JSON, the step's own dropped items JSON array or ''
      retry:      error JSON, delay ms (integer)
      failed:     error JSON, '1' to dead-letter else '0', the dead letter's item JSON or '' (the stored item)
      counters:   nCounters x (name, increment)
      items:      nItems x (id, node, item JSON)
      arrivals:   nArrivals x (group, index, size, join node or '' for a hold, arrival JSON)
      parked:     nParked x (id, node, item JSON, notBefore ms or '', signal name or '' for a sleep, the attempt it
                  parked at)

  Keys derived from P and one run id R of a commit (never any other run's):
    P run:{R}            HASH  record, outstanding, n, v, d:<version>, last, m:<metric>
    P run:{R}:states     HASH  item id -> packed state + item (includes/common.lua)
    P run:{R}:tally      HASH  items per state and node, as moves (tallyCounts) (includes/common.lua putState)
    P run:{R}:open       ZSET  outstanding item ids by enqueue seq, once R has INDEX_FROM items (includes/common.lua
                               putState, trackRun; deleted when R ends)
    P run:{R}:ready      LIST  claimable item ids
    P run:{R}:tokens     SET   lease tokens that committed a retry
    P run:{R}:counters   HASH  user counters
    P run:{R}:errors     LIST  error records (retry, fallback, signal, failure)
    P run:{R}:dead       LIST  dead letters
    P run:{R}:joins      HASH  group -> size
    P run:{R}:join:<g>   HASH  index -> parked arrival JSON; 'n' -> join node of the first valued arrival
    P run:{R}:steps      LIST  step history: one record per applied commit (runtime/engine/events.ts StepRecord)
    P run:{R}:wait:<n>   LIST  parked waits for signal n; P run:{R}:mailbox LIST signals no wait took yet
  and the prefix's shared indexes for R's workflow W and status S:
    P ring:W@F           LIST  round-robin ring of R's workflow version (R pushed when its ready list fills)
    P runs:status:S      ZSET  listRuns index (R moved when it finishes)
    P runs:expiring      ZSET  expiry queue (R added when it finishes)
    P events             STREAM step.finished / step.retry per applied commit, step.started per hand-off,
                                wait.started / timer.started per parked item, the run's final event
    P events:avg         STRING events per stream entry, the trims' moving average (includes/common.lua)

  Output: one reply per commit, in order, checked in this order:
    { 'not_found' }                              unknown run
    { 'corrupt', field, value }                  the run record's createdAt, outstanding, n or v is no number (nothing written)
    { 'bad_group', group, size, groupSize }      an arrival's size disagrees with its parked group
    { 'duplicate' }                              already committed
    { 'run_finished', status }                   the run is final (nothing applied)
    { 'lease_lost' }                             not this token's live lease
    { 'error', text }                            Redis refused a command of it (a stray write made a key of the wrong
                                                 type): its deferred writes are dropped, the other commits apply
    "applied\nrunStatus\ncontextVersion\ndropped JSON\nid..."
                                                 applied; the enqueued ids, then, when settlement items were
                                                 enqueued, an empty line and their JSON, one per line
    "finished\nrunStatus\ncontextVersion\ndropped JSON\ncreatedAt\nfinishedAt\nerror JSON or ''"
                                                 applied, and the commit finished the run (nothing enqueued): the
                                                 run's creation and end times and its error, for its span
    "handoff\nrunStatus\ncontextVersion\n[]\nid\nleaseToken\nleaseExpiry\nfingerprint\ndeadline\ntraceparent\nworkflow"
                                                 applied, the one successor leased to handoffWorker ("<worker>#h<runId>/<seq>@<now>",
                                                 first delivery, never on the ready list or the ring); workflow last
                                                 (it may hold anything)

  Join settlement: a group whose count reaches its size becomes ONE settlement item "<group>:join" carrying the
  parked arrivals as stored, concatenated in index order: {"id":..,"node":..,"settle":[...]} (node: 'n' or "#held").
  The engine decides what it becomes when it processes it (runtime/engine/joins.ts).
]]
--! include common.lua
--! include parked.lua
--! include finish.lua

local prefix = ARGV[1]
local retainMs = tonumber(ARGV[2])
eventsMax = tonumber(ARGV[3])
deferEvents = true -- one stream entry for all of this call's events (flushDeferred)
local nCommits = tonumber(ARGV[4])
local now, nowText = nowMs()

-- What finishRun needs of the run (meta as commitApply reads it), with `open` outstanding items left.
local function runOf(runId, meta, open)
  return { id = runId, status = meta[1], createdAt = meta[6], workflow = meta[2], open = open }
end

local function errorRecord(itemId, st, kindName, attempt, errorJson)
  return '{"at":' .. nowText .. ',"attempt":' .. attempt .. ',"error":' .. errorJson .. ',"itemId":' .. cjson.encode(itemId)
    .. ',"kind":"' .. kindName .. '","node":' .. cjson.encode(st.node) .. '}'
end

-- Applies one commit (its fields decoded by commitOne below; counters, items and arrivals follow ARGV[base]);
-- returns its reply.
local function commitApply(runId, itemId, token, kind, deltaJson, outputJson, errorJson, errorKind, delayMs, deadLetter, deadItem,
    extraDropped, noTerminal, nCounters, nItems, nArrivals, nParked, base, handoffWorker, handoffMs, handoffVersion)
  local K = runKeysOf(prefix, runId, KEYS[1], KEYS[2])

  local meta = redis.call('HMGET', K.run, 'status', 'workflow', 'outstanding', 'n', 'v', 'createdAt', 'fingerprint', 'indexed', 'tallied')
  local status, workflow = meta[1], meta[2]
  local ring = status and ringOf(workflow, meta[7])
  if not status then return { 'not_found' } end
  -- (read before any write: a script that fails halfway keeps what it wrote)
  if not tonumber(meta[6]) then return { 'corrupt', 'createdAt', meta[6] or '' } end
  if not tonumber(meta[3] or '0') then return { 'corrupt', 'outstanding', meta[3] } end
  if not tonumber(meta[4] or '0') then return { 'corrupt', 'n', meta[4] } end
  if not tonumber(meta[5] or '0') then return { 'corrupt', 'v', meta[5] } end
  local version = meta[5] or '0'

  local arrivals = {}
  local arrivalBase = base + 2 * nCounters + 3 * nItems
  for i = 0, nArrivals - 1 do
    local at = arrivalBase + 5 * i
    local a = { group = ARGV[at + 1], index = ARGV[at + 2], size = tonumber(ARGV[at + 3]), node = ARGV[at + 4], json = ARGV[at + 5] }
    local size = redis.call('HGET', K.joins, a.group)
    if size and tonumber(size) ~= a.size then return { 'bad_group', a.group, ARGV[at + 3], size } end
    arrivals[#arrivals + 1] = a
  end

  -- (1) already committed. A lease that is still current (in progress under this token) cannot have committed a
  -- retry (a retry clears the token and every claim gets a fresh one), so the token set is read only otherwise.
  local s = redis.call('HGET', K.states, itemId)
  local sStatus, sToken, sLeaseExp, rest
  if s then sStatus, sToken, sLeaseExp, rest = string.match(s, LEASE_PATTERN) end
  if sStatus == 'completed' or sStatus == 'failed' or sStatus == 'dead_lettered' then return { 'duplicate' } end
  local current = sStatus == 'in_progress' and sToken == token
  if not current and redis.call('SISMEMBER', K.tokens, token) == 1 then return { 'duplicate' } end
  -- (2) run final: its outstanding work was dropped when it finished; nothing else applies
  if isFinal(status) then return { 'run_finished', status } end
  -- (3) lease
  if not current or sLeaseExp == '' or tonumber(sLeaseExp) <= now then return { 'lease_lost' } end

  -- (4) apply
  K.indexed, K.tallied = meta[8] == '1', meta[9] == '1'
  -- a run this commit takes to INDEX_FROM items or more is tallied and indexed first (its states as they are), then
  -- kept so (includes/common.lua trackRun)
  if not (K.indexed and K.tallied) and kind == 'continue' and tonumber(meta[4] or '0') + nItems + nParked >= INDEX_FROM then trackRun(K) end
  defer('ZREM', K.leases, queueMember(runId, itemId))
  for i = 0, nCounters - 1 do
    redis.call('HINCRBYFLOAT', K.counters, ARGV[base + 1 + 2 * i], ARGV[base + 2 + 2 * i])
  end

  local enqueued, joined = {}, {}
  local dropped = '[]'
  -- the error of the run this commit fails (terminal: none)
  local runError = ''
  -- retries and failures (rare) read the whole state; a completed item keeps all but its lease and time
  local st
  if kind == 'retry' or kind == 'failed' then
    st = unpackState(s)
    st.token = ''
    st.leaseExp = ''
    st.updatedAt = nowText
  end

  local startedAt = leaseStart(token, nowText)
  if kind == 'retry' then
    stepDone(prefix, K.steps, runId, itemId, st.node, st.attempt, st.worker, startedAt, nowText, 'retry', errorJson, delayMs)
    redis.call('SADD', K.tokens, token)
    redis.call('RPUSH', K.errors, errorRecord(itemId, st, 'retry', st.attempt, errorJson))
    st.status = 'waiting_retry'
    st.attempt = int(tonumber(st.attempt) + 1)
    -- (no later than the last time a Date holds, 8.64e15: every listing reads it back as a time)
    st.notBefore = int(math.min(now + tonumber(delayMs), 8.64e15))
    putState(K, itemId, packState(st), st.node, 'in_progress', 'waiting_retry')
    redis.call('ZADD', K.delayed, st.notBefore, queueMember(runId, itemId))
    bump(K.run, 'm:retries', 1)
  elseif kind == 'failed' then
    local dl = deadLetter == '1'
    st.status = dl and 'dead_lettered' or 'failed'
    putState(K, itemId, packState(st), st.node, 'in_progress', st.status)
    redis.call('RPUSH', K.errors, errorRecord(itemId, st, 'failure', st.attempt, errorJson))
    bump(K.run, 'm:failed', 1)
    stepDone(prefix, K.steps, runId, itemId, st.node, st.attempt, st.worker, startedAt, nowText, 'failed', errorJson, '')
    if dl then
      bump(K.run, 'm:deadLettered', 1)
      redis.call('RPUSH', K.dead, '{"at":' .. nowText .. ',"attempts":' .. st.attempt .. ',"error":' .. errorJson
        .. ',"item":' .. (deadItem ~= '' and deadItem or st.json) .. '}')
    end
    dropped = finishRun(K, prefix, runOf(runId, meta, tonumber(meta[3]) - 1), 'failed', 'failed', now, nowText, errorJson, '', '', retainMs)
    status, runError = 'failed', errorJson
  else
    local worker, attempt, node = string.match(rest, DONE_PATTERN)
    putState(K, itemId, 'completed|||' .. nowText .. '||' .. rest, node, 'in_progress', 'completed')
    stepDone(prefix, K.steps, runId, itemId, node, attempt, worker, startedAt, nowText, kind, errorJson, '')
    if errorJson ~= '' then redis.call('RPUSH', K.errors, errorRecord(itemId, { node = node }, errorKind, attempt, errorJson)) end
    -- the run hash fields this commit changes, written in one HSET at the end (the `completed` metric is the run's
    -- tally of completed items: no counter to update)
    local fields = {}
    if deltaJson ~= '' then
      version = int(tonumber(version) + 1)
      local entry = itemId .. '\n' .. deltaJson
      fields[1], fields[2], fields[3], fields[4], fields[5], fields[6] = 'v', version, 'd:' .. version, entry, 'last', entry
    end
    if kind == 'terminal' then
      dropped = finishRun(K, prefix, runOf(runId, meta, tonumber(meta[3]) - 1), 'completed', 'terminal', now, nowText, '', outputJson, extraDropped, retainMs, fields)
      status = 'completed'
    else
      local n, nText = tonumber(meta[4]), meta[4]
      local itemBase = base + 2 * nCounters
      -- successor hand-off: the one new item goes straight to the committing worker when its run has nothing else
      -- waiting (the ready list is empty, so the run is not on the ring: no queue is jumped)
      local handoff = nil
      if handoffWorker ~= '' and nItems == 1 and nArrivals == 0 and nParked == 0 and status == 'running'
          and (handoffVersion == '' or handoffVersion == meta[7]) and redis.call('LLEN', K.ready) == 0 then
        local id, seq = ARGV[itemBase + 1], int(n + 1)
        local exp = int(now + tonumber(handoffMs))
        -- unique per claim as every token (a worker tells its leases apart by token): the run, then its item sequence
        local leaseToken = handoffWorker .. '#h' .. runId .. '/' .. seq .. '@' .. nowText
        if putState(K, id, 'in_progress|' .. leaseToken .. '|' .. exp .. '|' .. nowText .. '||1|'
            .. handoffWorker .. '|0|1|' .. seq .. '|' .. ARGV[itemBase + 3] .. '\n' .. ARGV[itemBase + 2], ARGV[itemBase + 2], nil, 'in_progress', seq) then
          defer('ZADD', K.leases, exp, queueMember(runId, id))
          n, nText = n + 1, seq
          enqueued[1] = id
          handoff = id .. '\n' .. leaseToken .. '\n' .. exp
          publish(prefix, runId, startedJson(runId, id, ARGV[itemBase + 2], '1', handoffWorker, nowText))
        end
        nItems = 0
      end
      for i = 0, nItems - 1 do
        local at = itemBase + 3 * i
        local id = ARGV[at + 1]
        local seq = int(n + 1)
        if addItem(K, prefix, runId, ring, status, id, ARGV[at + 2], ARGV[at + 3], nowText, seq) then
          n, nText = n + 1, seq
          enqueued[#enqueued + 1] = id
        end
      end
      local parkedBase = arrivalBase + 5 * nArrivals
      for i = 0, nParked - 1 do
        local at = parkedBase + 6 * i
        local id = ARGV[at + 1]
        local seq = int(n + 1)
        if addParked(K, prefix, runId, ring, status, id, ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], ARGV[at + 6], nowText, seq) then
          n, nText = n + 1, seq
          enqueued[#enqueued + 1] = id
        end
      end
      for _, a in ipairs(arrivals) do
        -- park; the arrival that completes its group enqueues the group's settlement item
        local groupKey = K.run .. ':join:' .. a.group
        redis.call('HSETNX', K.joins, a.group, a.size)
        if redis.call('HSETNX', groupKey, a.index, a.json) == 1 then
          if a.node ~= '' then redis.call('HSETNX', groupKey, 'n', a.node) end
          if redis.call('HLEN', groupKey) - redis.call('HEXISTS', groupKey, 'n') >= a.size then
            local flat = redis.call('HGETALL', groupKey)
            local parked, node = {}, '#held'
            for i = 1, #flat, 2 do
              if flat[i] == 'n' then node = flat[i + 1] else parked[#parked + 1] = { tonumber(flat[i]), flat[i + 1] } end
            end
            redis.call('DEL', groupKey)
            redis.call('HDEL', K.joins, a.group)
            table.sort(parked, function(x, y) return x[1] < y[1] end)
            local records = {}
            for i, p in ipairs(parked) do records[i] = p[2] end
            local id = a.group .. ':join'
            local json = '{"id":' .. cjson.encode(id) .. ',"node":' .. cjson.encode(node) .. ',"settle":['
              .. table.concat(records, ',') .. ']}'
            local seq = int(n + 1)
            if addItem(K, prefix, runId, ring, status, id, node, json, nowText, seq) then
              n, nText = n + 1, seq
              enqueued[#enqueued + 1] = id
              joined[#joined + 1] = json
            end
          end
        end
      end
      -- The consumed item leaves the outstanding count and the added ones join it.
      local outstanding = tonumber(meta[3]) + #enqueued - 1
      if outstanding <= 0 then
        fields[#fields + 1] = 'n'
        fields[#fields + 1] = nText
        dropped = finishRun(K, prefix, runOf(runId, meta, 0), 'failed', 'failed', now, nowText, noTerminal, '', '', retainMs, fields)
        status, runError = 'failed', noTerminal
      else
        if #enqueued ~= 1 then
          fields[#fields + 1] = 'outstanding'
          fields[#fields + 1] = int(outstanding)
        end
        if #enqueued > 0 then
          fields[#fields + 1] = 'n'
          fields[#fields + 1] = nText
        end
        if #fields > 0 then redis.call('HSET', K.run, unpack(fields)) end
        if handoff then
          local more = redis.call('HMGET', K.run, 'fingerprint', 'deadline', 'traceparent')
          return 'handoff\n' .. status .. '\n' .. version .. '\n[]\n' .. handoff .. '\n' .. more[1] .. '\n' .. (more[2] or '')
            .. '\n' .. (more[3] or '') .. '\n' .. workflow
        end
      end
    end
  end
  if isFinal(status) then
    return 'finished\n' .. status .. '\n' .. version .. '\n' .. dropped .. '\n' .. meta[6] .. '\n' .. nowText .. '\n' .. runError
  end
  local reply = 'applied\n' .. status .. '\n' .. version .. '\n' .. dropped
  if #enqueued == 1 then
    reply = reply .. '\n' .. enqueued[1]
  elseif #enqueued > 1 then
    reply = reply .. '\n' .. table.concat(enqueued, '\n')
  end
  if #joined > 0 then reply = reply .. '\n\n' .. table.concat(joined, '\n') end
  return reply
end

local KIND_ARGS = { continue = 4, terminal = 3, retry = 2, failed = 3 }

-- The position of the last argument of the commit commitOne is applying (set before it applies anything).
local commitEnd
-- Applies the commit whose arguments start after ARGV[p]; returns its reply.
local function commitOne(p)
  local runId, itemId, token, kind, nCounters, nItems, nArrivals, nParked, handoffWorker, handoffMs, handoffVersion =
    string.match(ARGV[p + 1], '^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n(%d+)\n(%d+)\n(%d+)\n(%d+)\n([^\n]*)\n(%d*)\n([^\n]*)$')
  nCounters, nItems, nArrivals, nParked = tonumber(nCounters), tonumber(nItems), tonumber(nArrivals), tonumber(nParked)
  local deltaJson, outputJson, errorJson, delayMs, deadLetter, deadItem, extraDropped, noTerminal, errorKind = '', '', '', '0', '0', '', '', '', 'fallback'
  if kind == 'continue' then
    deltaJson, noTerminal, errorJson, errorKind = ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5]
  elseif kind == 'terminal' then
    deltaJson, outputJson, extraDropped = ARGV[p + 2], ARGV[p + 3], ARGV[p + 4]
  elseif kind == 'retry' then
    errorJson, delayMs = ARGV[p + 2], ARGV[p + 3]
  else
    errorJson, deadLetter, deadItem = ARGV[p + 2], ARGV[p + 3], ARGV[p + 4]
  end
  local base = p + 1 + KIND_ARGS[kind]
  commitEnd = base + 2 * nCounters + 3 * nItems + 5 * nArrivals + 6 * nParked
  return commitApply(runId, itemId, token, kind, deltaJson, outputJson, errorJson, errorKind, delayMs, deadLetter, deadItem, extraDropped,
    noTerminal, nCounters, nItems, nArrivals, nParked, base, handoffWorker, handoffMs, handoffVersion)
end

-- Each commit under pcall: one that Redis refuses (a key of the wrong type...) answers { 'error', text } with its
-- deferred writes dropped, and the others still apply whole (an error out of the script kept the commits before it
-- without their deferred writes: their runs lost their ring pushes).
deferRingPushes = true
local out = {}
local p = 4
for c = 1, nCommits do
  commitEnd = nil
  out[c] = batchPart(commitOne, p)
  if not commitEnd then
    -- (its header could not be read, so neither can the commits after it)
    for d = c + 1, nCommits do out[d] = out[c] end
    break
  end
  p = commitEnd
end
flushDeferred()
return out
