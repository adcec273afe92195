--[[
  migrate: moves an open run to another graph version (RunMigrator.migrate): renames its pending items' nodes and
  sets its fingerprint, moving it from its version's claim ring to the target's; sets its updatedAt and migratedAt,
  its startedOn when unset (the version it started on: this first move's from), and publishes run.migrated. Checks first, writing nothing when
  one fails: the run is open (running or paused), on ARGV[3]; its outstanding items are exactly the ones judged (when
  a count is given) and each rewritten item's stored JSON is still the one it was rewritten from; no item is leased
  (unless ARGV[5] is 'keep').

  Input:
    KEYS[1] run HASH
    KEYS[2] item states HASH
    KEYS[3] ready LIST
    ARGV[1] key prefix P
    ARGV[2] run id R
    ARGV[3] from: the fingerprint the run must have
    ARGV[4] to: the fingerprint it gets
    ARGV[5] 'keep' (leased items move with the run) or 'block' (a live lease refuses the move)
    ARGV[6] n: how many outstanding item ids follow ('-1': the outstanding items are not checked)
    ARGV[7 .. 6+n] the ids of the outstanding items judged
    ARGV[7+n] m: how many rewrites follow, then per rewrite 4 arguments: item id, its item JSON as judged, the new
              item JSON, the new node
    ARGV[8+n+4m] the run.migrated event JSON without its "at" ({"type":...}, engine/migration.ts migratedEventJson)
    ARGV[9+n+4m] events to keep in the stream, about (0 = no events)

  Keys derived from KEYS[1] (P run:{R}), and from P and the run's workflow W:
    P run:{R}:tally      HASH  items per state and node, as moves (tallyCounts): a renamed item moves to its new node's
                               (includes/common.lua putState)
    P ring:W@from        LIST  the run leaves it
    P ring:W@to          LIST  the run joins it when it is running with ready items (and the ring joins P wfring)
    P events             STREAM run.migrated

  Output: (arrays)
    { 'ok' }                                         moved
    { 'not_found' }                                  no such run
    { 'final', status }                              the run is completed, failed or cancelled
    { 'version', fingerprint }                       the run is on another version than ARGV[3]
    { 'changed', itemId }                            an outstanding item was not judged (or changed, or is gone)
    { 'leased', itemId, node, workerId, ... }        items leased to workers (ARGV[5] 'block')
]]
--! include common.lua

local prefix, runId, from, to, leases = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local meta = redis.call('HMGET', KEYS[1], 'status', 'workflow', 'fingerprint')
if not meta[1] then return { 'not_found' } end
if meta[1] ~= 'running' and meta[1] ~= 'paused' then return { 'final', meta[1] } end
if meta[3] ~= from then return { 'version', meta[3] } end
local now, nowText = nowMs()

local n = tonumber(ARGV[6])
local judged = {}
if n >= 0 then
  for i = 7, 6 + n do judged[ARGV[i]] = true end
end
local base = 7 + math.max(n, 0)
local m = tonumber(ARGV[base])
eventsMax = tonumber(ARGV[base + 2 + 4 * m])

local all = redis.call('HGETALL', KEYS[2])
local states = {}
local outstanding = 0
local leased = { 'leased' }
for i = 1, #all, 2 do
  local st = unpackState(all[i + 1])
  if isOutstanding(st.status) then
    outstanding = outstanding + 1
    states[all[i]] = st
    if n >= 0 and not judged[all[i]] then return { 'changed', all[i] } end
    if leases ~= 'keep' and leaseLive(st, now) then
      leased[#leased + 1] = all[i]
      leased[#leased + 1] = st.node
      leased[#leased + 1] = st.worker
    end
  end
end
if n >= 0 and outstanding ~= n then
  for i = 7, 6 + n do
    if not states[ARGV[i]] then return { 'changed', ARGV[i] } end
  end
end
for j = 0, m - 1 do
  local id, old = ARGV[base + 1 + 4 * j], ARGV[base + 2 + 4 * j]
  local st = states[id]
  if not st or st.json ~= old then return { 'changed', id } end
end
if #leased > 1 then return leased end

local K = runKeysAt(KEYS[1])
for j = 0, m - 1 do
  local id = ARGV[base + 1 + 4 * j]
  local st = states[id]
  local fromNode = st.node
  st.json = ARGV[base + 3 + 4 * j]
  st.node = ARGV[base + 4 + 4 * j]
  putState(K, id, packState(st), st.node, st.status, st.status, nil, fromNode)
end
redis.call('HSET', KEYS[1], 'fingerprint', to, 'updatedAt', nowText, 'migratedAt', nowText)
redis.call('HSETNX', KEYS[1], 'startedOn', from)
redis.call('LREM', prefix .. 'ring:' .. ringOf(meta[2], from), 0, runId)
local ring = ringOf(meta[2], to)
workflowAdd(prefix, ring)
if meta[1] == 'running' and redis.call('LLEN', KEYS[3]) > 0 then ringPush(prefix, ring, runId) end
publish(prefix, runId, '{"at":' .. nowText .. ',' .. string.sub(ARGV[base + 1 + 4 * m], 2))
return { 'ok' }
