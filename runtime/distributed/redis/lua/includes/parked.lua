-- Parked items (a WaitFor's wait, a Sleep's sleep; runtime/engine/parked.ts), inlined after common.lua. A parked
-- item's state has status 'parked' and, when it has one, its wake-up time in notBefore (a sleep's end, a wait's
-- timeout), with its member in the delayed ZSET; claim promotes it when that time comes. A wait without its signal
-- is also on its name's list; a signal no wait took waits in the run's mailbox. Keys, derived from the run's key P run:{R}:
--   P run:{R}:wait:<name>  LIST  item ids of the parked waits for signal <name>, oldest first
--   P run:{R}:mailbox      LIST  signals no wait took yet, oldest first: "<name JSON>\n<key JSON>|''\n<at>\n<payload JSON>"
--   P run:{R}:sigkeys      SET   idempotency keys of every signal the run received (all a floxide before digests kept)
--   P run:{R}:sigdigests   HASH  key -> "<digest> <name>": the payload digest and name of the first signal of each key

-- Keeps idempotency key `key` of run key R with the payload digest and name of its signal: in the hash a repeat is
-- compared with, and in the set, which a floxide before digests (still running during a rolling upgrade) reads.
local function keepKey(R, key, digest, name)
  redis.call('HSET', R .. ':sigdigests', key, digest .. ' ' .. name)
  redis.call('SADD', R .. ':sigkeys', key)
end

-- A parked wait's item JSON with its signal added as `received` (the engine routes the payload on).
local function withSignal(json, payload)
  return string.sub(json, 1, -2) .. ',"received":{"payload":' .. payload .. '}}'
end

-- The signal name a parked item waits for, or nil for a sleep (read from its JSON: only on the rare paths, a
-- timeout or the end of a run with parked waits). cjson refuses a lone surrogate escape (\ud800, which JSON.stringify
-- writes for a string holding half a pair), and a node's input may hold one: such escapes are read as '?' (a name
-- never holds one), so the item wakes instead of failing every claim that promotes it. JSON that is not an item (a
-- stray write) answers nil, true: it never raises, as its callers have written before they ask (the item goes on
-- to its claim, whose worker fails it as corrupt).
local function waitNameOf(json)
  local ok, item = pcall(cjson.decode, json)
  if not ok then ok, item = pcall(cjson.decode, (string.gsub(json, '\\u[dD][89a-fA-F]%x%x', '\\u003f'))) end
  if not ok or type(item) ~= 'table' then return nil, true end
  local w = item.wait
  if w == nil then return nil end
  if type(w) ~= 'table' or type(w.name) ~= 'string' then return nil, true end
  return w.name
end

-- Takes the oldest mailbox entry of signal `name`; returns its payload JSON or nil.
local function takeMail(runKey, name)
  local mailbox = runKey .. ':mailbox'
  local head = cjson.encode(name) .. '\n'
  for _, m in ipairs(redis.call('LRANGE', mailbox, 0, -1)) do
    if string.sub(m, 1, #head) == head then
      redis.call('LREM', mailbox, 1, m)
      local _, _, payload = string.match(string.sub(m, #head + 1), '^([^\n]*)\n([^\n]*)\n(.*)$')
      return payload
    end
  end
  return nil
end

local function itemEvent(prefix, runId, itemType, nowText, itemId, node, extra)
  publish(prefix, runId, '{"at":' .. nowText .. ',"itemId":' .. cjson.encode(itemId) .. ',"node":' .. cjson.encode(node)
    .. ',"runId":' .. cjson.encode(runId) .. ',"type":"' .. itemType .. '"' .. extra .. '}')
end

-- Adds a parked item (`notBefore` decimal text or '', `wait` the signal name or '', `attempt` the attempt it parked
-- at, decimal text: it is kept at that attempt with the deliveries of the attempts before it, see newState) unless
-- the run knows its id, WITHOUT counting it (as addItem). A wait whose signal is in the mailbox takes it and is added
-- ready instead. Returns true when added.
local function addParked(K, prefix, runId, ring, status, id, node, json, notBefore, wait, attempt, nowText, seq)
  if redis.call('HEXISTS', K.states, id) == 1 then return false end
  local deliveries = int(tonumber(attempt) - 1)
  if wait ~= '' then
    local payload = takeMail(K.run, wait)
    if payload then
      addItem(K, prefix, runId, ring, status, id, node, withSignal(json, payload), nowText, seq, deliveries, attempt)
      return true
    end
  end
  putState(K, id, 'parked|||' .. nowText .. '|' .. notBefore .. '|' .. deliveries .. '||0|' .. attempt .. '|' .. seq .. '|' .. json .. '\n' .. node, node, nil, 'parked', seq)
  if notBefore ~= '' then redis.call('ZADD', K.delayed, notBefore, queueMember(runId, id)) end
  if wait ~= '' then
    redis.call('RPUSH', K.run .. ':wait:' .. wait, id)
    itemEvent(prefix, runId, 'wait.started', nowText, id, node, ',"signal":' .. cjson.encode(wait) .. (notBefore ~= '' and (',"timeoutAt":' .. notBefore) or ''))
  else
    itemEvent(prefix, runId, 'timer.started', nowText, id, node, ',"until":' .. notBefore)
  end
  return true
end

-- A parked item whose time came (its state st, unpacked): off its wait list when it is a wait (its timeout: no
-- signal can take it any more, the engine fails it with SignalTimeoutError). The caller makes it pending.
-- (An item whose JSON is unreadable may stay on a wait list: signal skips ids that are not parked.)
local function wakeParked(runKey, prefix, runId, itemId, st, nowText)
  local wait, unreadable = waitNameOf(st.json)
  if wait then
    redis.call('LREM', runKey .. ':wait:' .. wait, 1, itemId)
    itemEvent(prefix, runId, 'wait.timedOut', nowText, itemId, st.node, ',"signal":' .. cjson.encode(wait))
  elseif not unreadable then
    itemEvent(prefix, runId, 'timer.fired', nowText, itemId, st.node, '')
  end
end

-- The end of a run: the keys of its parked waits (from the states of its outstanding items) to delete, each once
-- (a fan-out of waits has thousands of items waiting for one signal name).
local function parkedKeys(runKey, states, out)
  local seen = {}
  for _, st in ipairs(states) do
    if st.status == 'parked' then
      local wait = waitNameOf(st.json)
      if wait and not seen[wait] then
        seen[wait] = true
        out[#out + 1] = runKey .. ':wait:' .. wait
      end
    end
  end
  return out
end
