--[[
  record-error: appends an error that no commit records (kind 'worker'), stamped with the backend's now.

  Input:
    KEYS[1] run HASH
    KEYS[2] errors LIST
    ARGV[1] item id
    ARGV[2] node
    ARGV[3] attempt (positive integer)
    ARGV[4] error JSON

  The errors list gets the run's time to live when the run has one (a finished run: its keys expire together).

  Output:
    1                                             recorded
    0                                             unknown run
]]
--! include common.lua

local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
redis.call('RPUSH', KEYS[2], '{"at":' .. select(2, nowMs()) .. ',"attempt":' .. ARGV[3] .. ',"error":' .. ARGV[4] .. ',"itemId":'
  .. cjson.encode(ARGV[1]) .. ',"kind":"worker","node":' .. cjson.encode(ARGV[2]) .. '}')
-- a finished run's keys expire together (its retention): a list this call created must too, or it outlives the run
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
