--[[
  schedule-put: creates or updates a schedule. An update replaces the definition, keeps the paused state, and moves
  the cursor to now only when the timing changed (a new expression never back-fills): the same timing (schedule-rules.ts
  scheduleTiming: an expression written otherwise) or, for a schedule stored before timings were, the same expression
  and time zone keep it. A stored timing counts only while 'timingOf' (the expression and time zone it was computed
  from) is the stored expression's: a floxide before timings defines a schedule again without touching either.

  Input:
    KEYS[1] P schedule:<id> HASH (the schedule's fields)
    KEYS[2] P schedules SET (every schedule id)
    KEYS[3] P schedules:wf:<workflow> SET (the ids of the workflow's schedules)
    ARGV[1] key prefix P (to drop the id from its old workflow's set when the workflow changes)
    ARGV[2] schedule id
    ARGV[3] workflow
    ARGV[4] cron expression
    ARGV[5] time zone ('' = UTC)
    ARGV[6] input JSON
    ARGV[7] catch-up policy
    ARGV[8] catch-up limit
    ARGV[9] grace ms
    ARGV[10] paused when created ('1' or '0')
    ARGV[11] timing (scheduleTiming of the expression and time zone)

  Output:
    the schedule's fields (HGETALL)
]]
--! include common.lua

local _, nowText = nowMs()
local old = redis.call('HMGET', KEYS[1], 'workflow', 'cron', 'timezone', 'cursor', 'createdAt', 'paused', 'timing', 'timingOf')
local cursor, createdAt, paused = nowText, nowText, ARGV[10]
if old[1] then
  createdAt = old[5]
  paused = old[6]
  local timed = old[7] == ARGV[11] and old[8] == (old[2] or '') .. '\n' .. (old[3] or '')
  if timed or (old[2] == ARGV[4] and old[3] == ARGV[5]) then cursor = old[4] end
  if old[1] ~= ARGV[3] then redis.call('SREM', ARGV[1] .. 'schedules:wf:' .. old[1], ARGV[2]) end
else
  redis.call('HSET', KEYS[1], 'skipped', '0', 'resumedAt', '', 'lastTickAt', '', 'lastRunId', '')
end
redis.call('HSET', KEYS[1], 'workflow', ARGV[3], 'cron', ARGV[4], 'timezone', ARGV[5], 'input', ARGV[6],
  'catchUp', ARGV[7], 'catchUpLimit', ARGV[8], 'graceMs', ARGV[9], 'paused', paused, 'cursor', cursor,
  'createdAt', createdAt, 'updatedAt', nowText, 'timing', ARGV[11], 'timingOf', ARGV[4] .. '\n' .. ARGV[5])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return redis.call('HGETALL', KEYS[1])
