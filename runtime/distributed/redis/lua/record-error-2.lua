--[[
  record-error: appends an error that no commit records (kind 'worker'), stamped with the backend's now.

  Input:
    KEYS[1] run HASH
    KEYS[2] errors LIST
    ARGV[1] item id
    ARGV[2] node
    ARGV[3] attempt (positive integer)
    ARGV[4] error JSON

  Output:
    1                                             recorded
    0                                             unknown run
]]
--! include common.lua

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], '{"at":' .. select(2, nowMs()) .. ',"attempt":' .. ARGV[3] .. ',"error":' .. ARGV[4] .. ',"itemId":'
  .. cjson.encode(ARGV[1]) .. ',"kind":"worker","node":' .. cjson.encode(ARGV[2]) .. '}')
return 1
