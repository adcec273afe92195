--[[
  heartbeat: records that a worker is alive now (backend clock) with its health, replacing the previous one.

  Input:
    KEYS[1] workers HASH (worker id -> "lastSeen|health JSON")
    ARGV[1] worker id
    ARGV[2] health JSON

  Output:
    the backend time recorded (epoch ms)
]]
--! include common.lua

local now, nowText = nowMs()
redis.call('HSET', KEYS[1], ARGV[1], nowText .. '|' .. ARGV[2])
return now
