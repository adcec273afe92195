--[[
  item-counts: how many of a run's items are in each state, per node or in total, counted here so that a run page of
  a long run reads a few numbers instead of every item's packed state (item JSON included). A finished run's items
  never change state again (a late commit, release or lease extension of it writes nothing), so its counts are kept
  in its run hash (field `counted`) by the first count after it finished: a finished run of 100,000 items is counted
  once, not at each read of its page.

  Input:
    KEYS[1] run HASH (field `counted`: a finished run's counts, cjson { nodes = { node, status, count, ... }, items,
            completed }, written here)
    KEYS[2] states HASH (item id -> packed state: its status, '|' and nine more fields, the item JSON, '\n', the node;
            see unpackState in backend.ts)
    ARGV[1] 'nodes': counts per node and status; 'totals': the number of items and of completed ones

  Output:
    0                                       unknown run
    { 'ok', node, status, count, node, status, count, ... }   ('nodes') one triple per node and status that has items
    { 'ok', items, completed }              ('totals')
    { 'corrupt', packed state }             ('nodes') the first state that cannot be read
]]

local meta = redis.call('HMGET', KEYS[1], 'status', 'counted')
local status = meta[1]
if not status then return 0 end
local final = status == 'completed' or status == 'failed' or status == 'cancelled'
local counted = final and meta[2] and cjson.decode(meta[2])
if not counted then
  local packed = redis.call('HVALS', KEYS[2])
  if ARGV[1] == 'totals' and not final then
    local completed = 0
    for i = 1, #packed do
      if string.sub(packed[i], 1, 10) == 'completed|' then completed = completed + 1 end
    end
    return { 'ok', #packed, completed }
  end
  local counts, order = {}, {}
  local completed = 0
  for i = 1, #packed do
    -- the status is the first field; the node follows the last newline (canonical item JSON holds no raw newline)
    local st, node = string.match(packed[i], '^([^|\n]*)|.*\n([^\n]*)$')
    if not st then
      if ARGV[1] == 'totals' then
        -- (totals read the status only, as before: a state whose node cannot be read still counts)
        if string.sub(packed[i], 1, 10) == 'completed|' then completed = completed + 1 end
        counts = nil
      else
        return { 'corrupt', packed[i] }
      end
    elseif counts then
      if st == 'completed' then completed = completed + 1 end
      local key = node .. '\n' .. st
      local n = counts[key]
      if n == nil then order[#order + 1] = key end
      counts[key] = (n or 0) + 1
    elseif st == 'completed' then
      completed = completed + 1
    end
  end
  if not counts then return { 'ok', #packed, completed } end
  local nodes = {}
  for _, key in ipairs(order) do
    local nl = string.find(key, '\n', 1, true)
    nodes[#nodes + 1] = string.sub(key, 1, nl - 1)
    nodes[#nodes + 1] = string.sub(key, nl + 1)
    nodes[#nodes + 1] = counts[key]
  end
  counted = { nodes = nodes, items = #packed, completed = completed }
  if final then redis.call('HSET', KEYS[1], 'counted', cjson.encode(counted)) end
end
if ARGV[1] == 'totals' then return { 'ok', counted.items, counted.completed } end
local out = { 'ok' }
for i = 1, #counted.nodes do out[#out + 1] = counted.nodes[i] end
return out
