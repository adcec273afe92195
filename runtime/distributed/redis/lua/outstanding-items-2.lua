--[[
  outstanding-items: a run's outstanding items (pending, in_progress, waiting_retry, parked), filtered here so that
  reading them costs no transfer of the run's finished items (every item of a long run stays in its states hash).

  Input:
    KEYS[1] run HASH
    KEYS[2] states HASH (item id -> packed state, whose first field is the status; see unpackState in backend.ts)
    ARGV[1] (none: the script takes no arguments)

  Output:
    0                                       unknown run
    { itemId, packed state, itemId, packed state, ... }   the outstanding items, in no order (the caller sorts by seq)
]]

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local outstanding = { pending = true, in_progress = true, waiting_retry = true, parked = true }
local packed = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #packed, 2 do
  local s = packed[i + 1]
  local bar = string.find(s, '|', 1, true)
  -- a state without a status field is returned too: the backend reports it as corrupt
  if not bar or outstanding[string.sub(s, 1, bar - 1)] then
    out[#out + 1] = packed[i]
    out[#out + 1] = s
  end
end
return out
