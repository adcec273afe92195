--[[
  list-runs: one page of a listRuns index, newest first, strictly after a cursor (keyset paging). The index orders
  runs by createdAt (the score), ties by run id (the member, bytes): the page is (score, member) descending.

  Input:
    KEYS[1] listRuns index ZSET (P runs, P runs:status:S or P runs:workflow:W)
    ARGV[1] cursor createdAt, or '' for the first page
    ARGV[2] cursor run id ('' for the first page)
    ARGV[3] page size (positive integer)

  Output:
    { runId1, createdAt1, runId2, createdAt2, ... }   at most ARGV[3] runs
]]

local index, count = KEYS[1], tonumber(ARGV[3])
if ARGV[1] == '' then return redis.call('ZREVRANGE', index, 0, count - 1, 'WITHSCORES') end

-- The cursor's run is still in the index (the usual case): the page starts right after its rank.
local rank = redis.call('ZREVRANK', index, ARGV[2])
if rank and tonumber(redis.call('ZSCORE', index, ARGV[2])) == tonumber(ARGV[1]) then
  return redis.call('ZREVRANGE', index, rank + 1, rank + count, 'WITHSCORES')
end

-- It left the index (its status changed, it expired): runs created in the same millisecond with a smaller id, then
-- older runs. Ids compare as bytes (Lua's < may follow the server's locale).
local function bytesLess(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local out = {}
local ties = redis.call('ZREVRANGEBYSCORE', index, ARGV[1], ARGV[1], 'WITHSCORES')
for i = 1, #ties, 2 do
  if #out >= 2 * count then return out end
  if bytesLess(ties[i], ARGV[2]) then
    out[#out + 1] = ties[i]
    out[#out + 1] = ties[i + 1]
  end
end
local older = redis.call('ZREVRANGEBYSCORE', index, '(' .. ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, count - #out / 2)
for i = 1, #older do out[#out + 1] = older[i] end
return out
