--[[
  signal: delivers signal `name` to a run, atomically: to its oldest parked wait of that name (now claimable, the
  signal added to its item as `received`), else into the run's mailbox, where the next such wait takes it
  (includes/parked.lua). A repeated idempotency key delivers nothing: with the name and payload digest it first came
  with, it is a duplicate; with another name or digest, it is refused (key_conflict; SignalKeyConflictError).

  Input:
    KEYS[1] delayed ZSET (member "runId\nitemId", score notBefore: a wait's timeout)
    ARGV[1] key prefix P
    ARGV[2] run id R
    ARGV[3] signal name
    ARGV[4] payload JSON (canonical)
    ARGV[5] '1' when the signal has an idempotency key, else '0'
    ARGV[6] the idempotency key (when ARGV[5] is '1')
    ARGV[7] events to keep in the stream, about (0 = no events)
    ARGV[8] the workflow the run must be a run of ('' = any)
    ARGV[9] the payload's digest (hex SHA-256 of its canonical JSON; when ARGV[5] is '1')

  Keys derived from P and R (and R's workflow W at fingerprint F):
    P run:{R}            HASH  status, workflow, fingerprint
    P run:{R}:states     HASH  the wait's state (parked -> pending)
    P run:{R}:tally      HASH  items per state and node, as moves (tallyCounts) (includes/common.lua putState)
    P run:{R}:ready      LIST  the wait, now claimable
    P run:{R}:wait:<n>   LIST  parked waits for signal n (the oldest leaves it, and any id before it whose item is not parked)
    P run:{R}:mailbox    LIST  the signal, when no wait takes it
    P run:{R}:sigkeys    SET   idempotency keys received (kept for a floxide before digests, which reads only this)
    P run:{R}:sigdigests HASH  key -> "<digest> <name>" of the first signal of each key; a key in sigkeys but not
                               here (kept by a floxide before digests) matches any signal
    P ring:W@F           LIST  R goes on its ring when its ready list fills (running runs only)
    P events             STREAM signal.received
    P events:avg         STRING events per stream entry, the trims' moving average (includes/common.lua)

  Output:
    { 'not_found' }          unknown run
    'duplicate'              the key was received before with this name and digest, or before digests (nothing
                             changes; also once the run is final)
    { 'key_conflict', name, digest }  the key was received before with another name or digest, these (nothing changes)
    { 'final', status }      the run is final (nothing changes)
    { 'other_workflow', W }  the run is a run of workflow W, not of ARGV[8] (nothing changes)
    'delivered'              kept in the run's mailbox (no wait of that name is parked)
    { 'delivered', itemId }  given to the parked wait itemId
]]
--! include common.lua
--! include parked.lua

local prefix, runId, name, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local hasKey, key, digest = ARGV[5] == '1', ARGV[6], ARGV[9]
eventsMax = tonumber(ARGV[7])
local R = prefix .. 'run:{' .. runId .. '}'
local meta = redis.call('HMGET', R, 'status', 'workflow', 'fingerprint', 'tallied')
local status = meta[1]
if not status then return { 'not_found' } end
if ARGV[8] ~= '' and meta[2] ~= ARGV[8] then return { 'other_workflow', meta[2] } end
-- a repeated key is a duplicate even after the run finished (a retried webhook is not an error), unless it came with
-- another name or payload (refused)
if hasKey then
  local kept = redis.call('HGET', R .. ':sigdigests', key)
  if kept then
    local keptDigest, keptName = string.match(kept, '^(%x*) (.*)$')
    if keptDigest == digest and keptName == name then return 'duplicate' end
    return { 'key_conflict', keptName or '', keptDigest or '' }
  end
  if redis.call('SISMEMBER', R .. ':sigkeys', key) == 1 then return 'duplicate' end
end
if isFinal(status) then return { 'final', status } end
local now, nowText = nowMs()
local event = '{"at":' .. nowText .. ',"name":' .. cjson.encode(name) .. ',"runId":' .. cjson.encode(runId)
  .. ',"type":"signal.received"' .. (hasKey and (',"key":' .. cjson.encode(key)) or '')
-- the oldest wait that is still parked (an id whose item is not, one a timeout could not take off the list because
-- its JSON was unreadable, is dropped: giving it the signal would make a leased or finished item claimable again)
local itemId, st
while true do
  itemId = redis.call('LPOP', R .. ':wait:' .. name)
  if not itemId then break end
  local s = redis.call('HGET', R .. ':states', itemId)
  st = s and unpackState(s)
  if st and st.status == 'parked' then break end
end
-- (the key is kept last, once the signal is delivered: a script that fails keeps what it wrote, and a key kept
-- without its signal would make the sender's retry a duplicate, the signal lost)
if not itemId then
  redis.call('RPUSH', R .. ':mailbox', cjson.encode(name) .. '\n' .. (hasKey and cjson.encode(key) or '') .. '\n' .. nowText .. '\n' .. payload)
  publish(prefix, runId, event .. '}')
  if hasKey then keepKey(R, key, digest, name) end
  return 'delivered'
end
if st.notBefore ~= '' then redis.call('ZREM', KEYS[1], queueMember(runId, itemId)) end
st.status = 'pending'
st.notBefore = ''
st.updatedAt = nowText
st.json = withSignal(st.json, payload)
local K = runKeysAt(R)
K.tallied = meta[4] == '1'
putState(K, itemId, packState(st), st.node, 'parked', 'pending')
if redis.call('RPUSH', R .. ':ready', itemId) == 1 and status == 'running' then ringPush(prefix, ringOf(meta[2], meta[3]), runId) end
publish(prefix, runId, event .. ',"itemId":' .. cjson.encode(itemId) .. '}')
if hasKey then keepKey(R, key, digest, name) end
return { 'delivered', itemId }
