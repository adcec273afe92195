--[[
  read-context: a run's context as stored, in one consistent read (deltas live in the run hash, see common.lua).

  Input:
    KEYS[1] run HASH
    ARGV[1] since version (non-negative integer)
    ARGV[2] '1' to include the initial context, else '0'
    ARGV[3] at most this many deltas, the newest (a positive integer; '0' = every delta since ARGV[1])

  Output:
    0                                             unknown run
    { version, initial context JSON or '', { delta entries since+1..version } }
                                                  each entry "itemId\ndelta JSON"; none when since >= version;
                                                  with a limit, entries version-limit+1..version (when above since)
]]

local meta = redis.call('HMGET', KEYS[1], 'status', 'v', ARGV[2] == '1' and 'context' or 'status')
if not meta[1] then return 0 end
local version, since, limit = tonumber(meta[2] or '0'), tonumber(ARGV[1]), tonumber(ARGV[3])
if limit > 0 and version - limit > since then since = version - limit end
local entries = {}
-- HMGET in slices: unpack() of a very long field list would overflow the Lua stack
for from = since + 1, version, 1000 do
  local fields = {}
  for v = from, math.min(from + 999, version) do fields[#fields + 1] = 'd:' .. v end
  for _, e in ipairs(redis.call('HMGET', KEYS[1], unpack(fields))) do entries[#entries + 1] = e end
end
return { version, ARGV[2] == '1' and meta[3] or '', entries }
