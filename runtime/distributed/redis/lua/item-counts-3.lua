--[[
  item-counts: how many of a run's items are in each state, per node or in total, read from the run's tally (kept by
  every script that writes an item state, see putState in includes/common.lua), so that a run page of a long run
  reads a field per node and status instead of every item's packed state (item JSON included). A run created before
  tallies were kept (no `tallied` field in its run hash), or whose tally does not add up to its number of items (a
  process of a floxide before tallies added items to it during a rolling upgrade), is counted here once, whole, and
  its tally written and marked; from then on the scripts keep it.

  Input:
    KEYS[1] run HASH (field `tallied`: '1' when KEYS[3] counts every item, written here for an older run)
    KEYS[2] states HASH (item id -> packed state: its status, '|' and nine more fields, the item JSON, '\n', the node;
            see unpackState in backend.ts)
    KEYS[3] tally HASH (the items that came in each state and node, and that moved between them: tallyCounts in
            includes/common.lua; written here for an older run, with the run hash's time to live)
    ARGV[1] 'nodes': counts per node and status; 'totals': the number of items and of completed ones; 'recount': the
            counts per node and status from the states themselves, written nowhere (what the tally must equal)

  Output:
    0                                       unknown run
    { 'ok', node, status, count, node, status, count, ... }   ('nodes', 'recount') one triple per node and status that
                                            has items
    { 'ok', items, completed }              ('totals')
    { 'corrupt', packed state }             ('recount', and 'nodes' of a run counted again) the first state that
                                            cannot be read
]]
--! include common.lua

local meta = redis.call('HMGET', KEYS[1], 'status', 'tallied')
if not meta[1] then return 0 end
local mode = ARGV[1]

-- The counts of the states themselves: { 'ok', node, status, count, ... } or { 'corrupt', packed state }, and the
-- tally fields and values that hold them (countStates in includes/common.lua).
local function recount()
  local fields, corrupt = countStates(redis.call('HVALS', KEYS[2]))
  if corrupt then return { 'corrupt', corrupt } end
  local out = { 'ok' }
  for i = 1, #fields, 2 do
    local nl = string.find(fields[i], '\n', 1, true)
    out[#out + 1] = string.sub(fields[i], nl + 1)
    out[#out + 1] = string.sub(fields[i], 1, nl - 1)
    out[#out + 1] = fields[i + 1]
  end
  return out, fields
end

if mode == 'recount' then return recount() end

local items = redis.call('HLEN', KEYS[2])
local counts, order
if meta[2] == '1' then
  local counted
  counts, order, counted = tallyCounts(redis.call('HGETALL', KEYS[3]))
  -- A tally that does not count every item is not kept right: a process of a floxide before tallies (a rolling
  -- upgrade) added items to the run without counting them. It is counted again, as a run without one.
  if counted ~= items then counts = nil end
end
if not counts then
  local counted, fields = recount()
  if counted[1] == 'corrupt' then
    if mode == 'nodes' then return counted end
    -- (totals read the status only, as before: a state whose node cannot be read still counts)
    local packed = redis.call('HVALS', KEYS[2])
    local completed = 0
    for i = 1, #packed do
      if string.sub(packed[i], 1, 10) == 'completed|' then completed = completed + 1 end
    end
    return { 'ok', #packed, completed }
  end
  -- (the tally of an older run holds the changes the scripts made since the upgrade: replaced whole)
  redis.call('DEL', KEYS[3])
  callInSlices('HSET', KEYS[3], fields)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 and #fields > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
  redis.call('HSET', KEYS[1], 'tallied', '1')
  counts, order = tallyCounts(fields)
end

if mode == 'totals' then
  local completed = 0
  for _, field in ipairs(order) do
    if string.sub(field, 1, 10) == 'completed\n' then completed = completed + counts[field] end
  end
  return { 'ok', items, completed }
end
local out = { 'ok' }
for _, field in ipairs(order) do
  local n = counts[field]
  -- (a state every item left counts 0)
  if n ~= 0 then
    local nl = string.find(field, '\n', 1, true)
    out[#out + 1] = string.sub(field, nl + 1)
    out[#out + 1] = string.sub(field, 1, nl - 1)
    out[#out + 1] = n
  end
end
return out
