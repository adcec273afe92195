--[[
  schedule-remove: deletes a schedule and drops it from the schedule sets.

  Input:
    KEYS[1] P schedule:<id> HASH
    KEYS[2] P schedules SET
    ARGV[1] key prefix P
    ARGV[2] schedule id

  Output:
    1 removed
    0 there was no such schedule
]]

local wf = redis.call('HGET', KEYS[1], 'workflow')
if not wf then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SREM', ARGV[1] .. 'schedules:wf:' .. wf, ARGV[2])
return 1
