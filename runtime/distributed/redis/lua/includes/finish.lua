-- finishRun: makes a run final and drops its outstanding work (parked items too: their wait lists are deleted, the
-- mailbox and signal keys expire with the run), atomically with the caller's script. Needs parked.lua.
-- Needs (from the caller) the table K of per-run keys (runKeys() layout) and what the caller already read of the run:
-- r = { id, status (current), createdAt, workflow, open }, where `open` is the number of items still outstanding
-- besides those the caller resolved itself (the item of a terminal or failed commit). When it is 0 the item states
-- are not scanned at all (the common end of a run).
-- extraJson: '' or a JSON array of further dropped entries (terminal outcome's own successors / arrivals).
-- fields: further run hash fields the caller changes ({ name, value, ... }), written with the final status in one HSET.
-- Returns the JSON array of dropped items, in enqueue order then extras.
local function finishRun(K, prefix, r, status, reason, now, nowText, errorJson, outputJson, extraJson, retainMs, fields)
  local parts = {}
  local waitKeys = {}
  if r.open > 0 then
    local flat = redis.call('HGETALL', K.states)
    local open = {}
    for i = 1, #flat, 2 do
      local st = unpackState(flat[i + 1])
      if isOutstanding(st.status) then
        st.id = flat[i]
        open[#open + 1] = st
      end
    end
    table.sort(open, function(a, b) return tonumber(a.seq) < tonumber(b.seq) end)
    parkedKeys(K.run, open, waitKeys)
    for _, st in ipairs(open) do
      local from = st.status
      if st.status == 'in_progress' then redis.call('ZREM', K.leases, queueMember(r.id, st.id)) end
      if st.status == 'waiting_retry' or (st.status == 'parked' and st.notBefore ~= '') then redis.call('ZREM', K.delayed, queueMember(r.id, st.id)) end
      st.status = 'dropped'
      st.token = ''
      st.leaseExp = ''
      st.notBefore = ''
      st.updatedAt = nowText
      putState(K, st.id, packState(st), st.node, from, 'dropped')
      parts[#parts + 1] = '{"id":' .. cjson.encode(st.id) .. ',"node":' .. cjson.encode(st.node) .. ',"reason":"' .. reason .. '"}'
    end
  end
  local count = #parts
  if extraJson ~= '' and extraJson ~= '[]' then
    parts[#parts + 1] = string.sub(extraJson, 2, -2)
    count = count + #cjson.decode(extraJson)
  end
  local dropped = '[' .. table.concat(parts, ',') .. ']'
  -- Nothing outstanding means nothing ready (every ready item is pending): the ready list is already gone then.
  -- (the index of outstanding items goes too: empty, or a run's of a floxide before it, which indexed only some)
  -- (no index to delete for a run the caller read as not indexed: a run of fewer than INDEX_FROM items, see putState)
  local gone = r.open > 0 and { K.ready } or {}
  if rawget(K, 'indexed') ~= false then gone[#gone + 1] = K.open end
  for _, k in ipairs(waitKeys) do gone[#gone + 1] = k end
  local groups = redis.call('HKEYS', K.joins)
  if #groups > 0 then gone[#gone + 1] = K.joins end
  for _, g in ipairs(groups) do gone[#gone + 1] = K.run .. ':join:' .. g end
  -- in slices of 1000 keys: a run may have thousands of join groups (unpack() of a longer list overflows the Lua
  -- stack, and this runs after the item states above were written)
  for from = 1, #gone, 1000 do redis.call('DEL', unpack(gone, from, math.min(from + 999, #gone))) end
  fields = fields or {}
  local add = { 'status', status, 'updatedAt', nowText, 'finishedAt', nowText, 'dropped', dropped, 'outstanding', '0' }
  if errorJson and errorJson ~= '' then add[#add + 1] = 'error'; add[#add + 1] = errorJson end
  if outputJson and outputJson ~= '' then add[#add + 1] = 'output'; add[#add + 1] = outputJson end
  for _, x in ipairs(add) do fields[#fields + 1] = x end
  redis.call('HSET', K.run, unpack(fields))
  if count > 0 then bump(K.run, 'm:dropped', count) end
  indexStatus(prefix, r.id, r.createdAt, r.status, status)
  local head = '{"at":' .. nowText .. ',"runId":' .. cjson.encode(r.id) .. ','
  if status == 'completed' then
    publish(prefix, r.id, head .. '"type":"run.completed","output":' .. outputJson .. ',"dropped":' .. dropped .. '}')
  else
    publish(prefix, r.id, head .. '"type":"run.' .. status .. '","error":' .. errorJson .. '}')
  end
  if retainMs > 0 then
    -- (the ready list and the join hashes were just deleted: nothing to expire there; the rarely used keys are
    -- expired only when one of them exists, which one EXISTS tells for all of them)
    redis.call('PEXPIRE', K.run, retainMs)
    redis.call('PEXPIRE', K.states, retainMs)
    if tallied(K) then redis.call('PEXPIRE', K.tally, retainMs) end
    redis.call('PEXPIRE', K.run .. ':steps', retainMs)
    local mailbox, sigkeys, sigdigests = K.run .. ':mailbox', K.run .. ':sigkeys', K.run .. ':sigdigests'
    if redis.call('EXISTS', K.tokens, K.counters, K.errors, K.dead, mailbox, sigkeys, sigdigests) > 0 then
      for _, key in ipairs({ K.tokens, K.counters, K.errors, K.dead, mailbox, sigkeys, sigdigests }) do redis.call('PEXPIRE', key, retainMs) end
    end
    redis.call('ZADD', prefix .. 'runs:expiring', now + retainMs, status .. '\n' .. r.id .. '\n' .. r.workflow)
  end
  return dropped
end
