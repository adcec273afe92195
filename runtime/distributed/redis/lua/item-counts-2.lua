--[[
  item-counts: per node, how many of a run's items are in each state, counted here so that a run page of a long run
  reads a few numbers instead of every item's packed state (item JSON included).

  Input:
    KEYS[1] run HASH
    KEYS[2] states HASH (item id -> packed state: ten '|'-separated fields, the item JSON, '\n', the node; see
            unpackState in backend.ts)
    ARGV[1] (none: the script takes no arguments)

  Output:
    0                                       unknown run
    { 'ok', node, status, count, node, status, count, ... }   one triple per node and state that has items
    { 'corrupt', itemId, packed state }     the first state that cannot be read
]]

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local counts, order = {}, {}
local packed = redis.call('HGETALL', KEYS[2])
for i = 2, #packed, 2 do
  local s = packed[i]
  local bar = string.find(s, '|', 1, true)
  -- the node follows the first newline after the ten fixed fields (canonical item JSON holds no raw newline)
  local pos = 1
  for _ = 1, 10 do
    local j = pos and string.find(s, '|', pos, true)
    pos = j and j + 1
  end
  local nl = pos and string.find(s, '\n', pos, true)
  if not nl then return { 'corrupt', packed[i - 1], s } end
  local key = string.sub(s, nl + 1) .. '\n' .. string.sub(s, 1, bar - 1)
  local n = counts[key]
  if n == nil then order[#order + 1] = key end
  counts[key] = (n or 0) + 1
end
local out = { 'ok' }
for _, key in ipairs(order) do
  local nl = string.find(key, '\n[^\n]*$')
  out[#out + 1] = string.sub(key, 1, nl - 1)
  out[#out + 1] = string.sub(key, nl + 1)
  out[#out + 1] = counts[key]
end
return out
