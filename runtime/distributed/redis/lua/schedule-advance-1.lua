--[[
  schedule-advance: compare-and-set of a schedule's cursor, by a scheduler that handled the ticks up to it.

  Input:
    KEYS[1] P schedule:<id> HASH
    ARGV[1] the cursor the scheduler read (decimal epoch ms)
    ARGV[2] the new cursor
    ARGV[3] ticks skipped (added to `skipped`)
    ARGV[4] the last tick fired ('' when none)
    ARGV[5] its run id ('' when none)

  Output:
    1 applied
    0 the schedule is gone, paused, or its cursor moved already
]]
--! include common.lua

local cur = redis.call('HMGET', KEYS[1], 'cursor', 'paused')
if not cur[1] or cur[2] ~= '0' or cur[1] ~= ARGV[1] then return 0 end
local _, nowText = nowMs()
redis.call('HSET', KEYS[1], 'cursor', ARGV[2], 'updatedAt', nowText)
if ARGV[3] ~= '0' then bump(KEYS[1], 'skipped', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'lastTickAt', ARGV[4], 'lastRunId', ARGV[5]) end
return 1
