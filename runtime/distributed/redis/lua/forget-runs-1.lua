--[[
  forget-runs: drops from a listRuns index the runs whose keys expired (listRuns met them), each checked when it is
  removed: a run created again under the same id since listRuns read it stays listed.

  Input:
    KEYS[1] listRuns index ZSET (P runs, P runs:status:S or P runs:workflow:W)
    ARGV[1] key prefix P
    ARGV[2..] run ids

  Keys derived from P and a run id R:
    P run:{R}            HASH  the run record (the entry goes only while it does not exist)

  Output:
    the number of index entries removed
]]

local removed = 0
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. 'run:{' .. ARGV[i] .. '}') == 0 then removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return removed
