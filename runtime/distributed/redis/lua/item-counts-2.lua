--[[
  item-counts: how many of a run's items are in each state, per node or in total, counted here so that a run page of
  a long run reads a few numbers instead of every item's packed state (item JSON included).

  Input:
    KEYS[1] run HASH
    KEYS[2] states HASH (item id -> packed state: its status, '|' and nine more fields, the item JSON, '\n', the node;
            see unpackState in backend.ts)
    ARGV[1] 'nodes': counts per node and status; 'totals': the number of items and of completed ones

  Output:
    0                                       unknown run
    { 'ok', node, status, count, node, status, count, ... }   ('nodes') one triple per node and status that has items
    { 'ok', items, completed }              ('totals')
    { 'corrupt', packed state }             ('nodes') the first state that cannot be read
]]

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local packed = redis.call('HVALS', KEYS[2])
if ARGV[1] == 'totals' then
  local completed = 0
  for i = 1, #packed do
    if string.sub(packed[i], 1, 10) == 'completed|' then completed = completed + 1 end
  end
  return { 'ok', #packed, completed }
end
local counts, order = {}, {}
for i = 1, #packed do
  -- the status is the first field; the node follows the last newline (canonical item JSON holds no raw newline)
  local status, node = string.match(packed[i], '^([^|\n]*)|.*\n([^\n]*)$')
  if not status then return { 'corrupt', packed[i] } end
  local key = node .. '\n' .. status
  local n = counts[key]
  if n == nil then order[#order + 1] = key end
  counts[key] = (n or 0) + 1
end
local out = { 'ok' }
for _, key in ipairs(order) do
  local nl = string.find(key, '\n', 1, true)
  out[#out + 1] = string.sub(key, 1, nl - 1)
  out[#out + 1] = string.sub(key, nl + 1)
  out[#out + 1] = counts[key]
end
return out
