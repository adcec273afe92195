--[[
  schedule-state: pauses or resumes a schedule. Resuming a paused schedule sets resumedAt = now (the ticks that fell
  during the pause count as missed); repeating either is a no-op.

  Input:
    KEYS[1] P schedule:<id> HASH
    ARGV[1] 'pause' or 'resume'

  Output:
    the schedule's fields (HGETALL)
    'not_found' when there is no such schedule
]]
--! include common.lua

local paused = redis.call('HGET', KEYS[1], 'paused')
if not paused then return 'not_found' end
if ARGV[1] == 'pause' and paused == '0' then
  local _, nowText = nowMs()
  redis.call('HSET', KEYS[1], 'paused', '1', 'updatedAt', nowText)
elseif ARGV[1] == 'resume' and paused == '1' then
  local _, nowText = nowMs()
  redis.call('HSET', KEYS[1], 'paused', '0', 'resumedAt', nowText, 'updatedAt', nowText)
end
return redis.call('HGETALL', KEYS[1])
