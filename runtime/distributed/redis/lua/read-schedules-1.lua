--[[
  read-schedules: every schedule of a set, read at one instant, with the backend's clock.

  Input:
    KEYS[1] P schedules SET or P schedules:wf:<workflow> SET
    ARGV[1] key prefix P

  Output:
    { now (epoch ms), id1, fields1 (HGETALL), id2, fields2, ... }
]]
--! include common.lua

local now = nowMs()
local out = { now }
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fields = redis.call('HGETALL', ARGV[1] .. 'schedule:' .. id)
  if #fields > 0 then
    out[#out + 1] = id
    out[#out + 1] = fields
  end
end
return out
