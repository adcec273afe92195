-- finishRun: makes a run final and drops its outstanding work, atomically with the caller's script.
-- Needs (from the caller) the table K of per-run keys: run, items, states, order, ready, metrics, joins, leases,
-- delayed, plus every other per-run key in K.all (expired after retainMs).
-- extraJson: '' or a JSON array of further dropped entries (terminal outcome's own successors / arrivals).
-- resolved: how many items the caller already took out of the outstanding states without updating the run's
-- `outstanding` count (1 for the item of a terminal or failed commit, else 0). When the count says no other item is
-- outstanding, the item states are not scanned at all (the common end of a run).
-- Returns the JSON array of dropped items, in enqueue order then extras.
local function finishRun(K, prefix, runId, status, reason, now, errorJson, outputJson, extraJson, retainMs, resolved)
  local parts = {}
  local meta = redis.call('HMGET', K.run, 'status', 'createdAt', 'workflow', 'outstanding')
  local open = tonumber(meta[4] or '0') - resolved
  local order = open > 0 and redis.call('LRANGE', K.order, 0, -1) or {}
  local chunk = 500
  for from = 1, #order, chunk do
    local ids = {}
    for i = from, math.min(from + chunk - 1, #order) do ids[#ids + 1] = order[i] end
    local packed = redis.call('HMGET', K.states, unpack(ids))
    for i, id in ipairs(ids) do
      local s = packed[i]
      if s then
        local st = unpackState(s)
        if isOutstanding(st.status) then
          if st.status == 'in_progress' then redis.call('ZREM', K.leases, queueMember(runId, id)) end
          if st.status == 'waiting_retry' then redis.call('ZREM', K.delayed, queueMember(runId, id)) end
          st.status = 'dropped'
          st.token = ''
          st.leaseExp = nil
          st.notBefore = nil
          st.updatedAt = now
          redis.call('HSET', K.states, id, packState(st))
          parts[#parts + 1] = '{"id":' .. cjson.encode(id) .. ',"node":' .. cjson.encode(st.node) .. ',"reason":"' .. reason .. '"}'
        end
      end
    end
  end
  local count = #parts
  if extraJson ~= '' and extraJson ~= '[]' then
    parts[#parts + 1] = string.sub(extraJson, 2, -2)
    count = count + #cjson.decode(extraJson)
  end
  local dropped = '[' .. table.concat(parts, ',') .. ']'
  redis.call('DEL', K.ready)
  local groups = redis.call('HKEYS', K.joins)
  for _, g in ipairs(groups) do redis.call('DEL', K.run .. ':join:' .. g) end
  redis.call('DEL', K.joins)
  local fields = { 'status', status, 'updatedAt', int(now), 'finishedAt', int(now), 'dropped', dropped, 'outstanding', '0' }
  if errorJson and errorJson ~= '' then fields[#fields + 1] = 'error'; fields[#fields + 1] = errorJson end
  if outputJson and outputJson ~= '' then fields[#fields + 1] = 'output'; fields[#fields + 1] = outputJson end
  redis.call('HSET', K.run, unpack(fields))
  if count > 0 then redis.call('HINCRBY', K.metrics, 'dropped', count) end
  indexStatus(prefix, runId, meta[2], meta[1], status)
  if retainMs > 0 then
    -- (the ready list and the join hashes were just deleted: nothing to expire there)
    for _, key in ipairs(K.all) do
      if key ~= K.ready and key ~= K.joins then redis.call('PEXPIRE', key, retainMs) end
    end
    redis.call('ZADD', prefix .. 'runs:expiring', now + retainMs, status .. '\n' .. runId .. '\n' .. meta[3])
  end
  return dropped
end
