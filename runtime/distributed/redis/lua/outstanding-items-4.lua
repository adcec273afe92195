--[[
  outstanding-items: a run's outstanding items (pending, in_progress, waiting_retry, parked), or those in the states
  asked for, the first `limit` of them in enqueue order, selected here so that reading them costs no transfer of the
  run's other items (every item of a long run stays in its states hash, and a run page shows 200 of 100,000).
  A run's index of outstanding items (KEYS[3], kept by every script that writes an item state: putState in
  includes/common.lua) is read in enqueue order, a slice at a time, up to the `limit` items asked for or, when its tally
  (KEYS[4]) adds up to its items, up to as many as the tally counts in the states asked for: a page of a run with
  100,000 items waiting reads the first of them, not all. A run of a floxide before the index (no `indexed` field in
  its run hash), or whose index does not hold its `outstanding` count of items (a process of that floxide wrote some
  of its states), is read with a pass over its states.

  Input:
    KEYS[1] run HASH (fields `indexed`, `tallied`, `outstanding`)
    KEYS[2] states HASH (item id -> packed state, whose first field is the status and tenth the enqueue seq; see
            unpackState in backend.ts)
    KEYS[3] open ZSET (the run's outstanding item ids, scored by enqueue seq)
    KEYS[4] tally HASH (the items that came in each state and node, and that moved between them: tallyCounts in
            includes/common.lua)
    ARGV[1] the states to return, comma-separated (the caller's subset of the outstanding ones)
    ARGV[2] limit: at most this many, the lowest seqs (0 = all)

  Output:
    0                                       unknown run
    { itemId, packed state, itemId, packed state, ... }   the items, in no order (the caller sorts by seq); a state
                                            that cannot be read is returned too (the backend reports it as corrupt)
]]
--! include common.lua

local meta = redis.call('HMGET', KEYS[1], 'status', 'indexed', 'tallied', 'outstanding')
if not meta[1] then return 0 end
local wanted = {}
for s in string.gmatch(ARGV[1], '[^,]+') do wanted[s] = true end
local limit = tonumber(ARGV[2])

-- (an index that does not hold as many items as the run has outstanding is not trusted: a process of a floxide before
-- the index added or finished items of the run during a rolling upgrade)
if meta[2] == '1' and redis.call('ZCARD', KEYS[3]) == tonumber(meta[4] or '0') then
  -- How many to find: the limit, or fewer when the tally counts fewer in the states asked for (nil: the whole index).
  local target = limit > 0 and limit or nil
  if meta[3] == '1' then
    local counts, order, sum = tallyCounts(redis.call('HGETALL', KEYS[4]))
    local counted = 0
    for _, field in ipairs(order) do
      if wanted[string.match(field, '^[^\n]*')] then counted = counted + counts[field] end
    end
    -- (a tally that does not add up to the run's items is not trusted: see item-counts-3.lua)
    if sum == redis.call('HLEN', KEYS[2]) and (not target or counted < target) then target = counted end
  end
  local out, found, from = {}, 0, 0
  local SLICE = 500
  while not target or found < target do
    local ids = redis.call('ZRANGE', KEYS[3], from, from + SLICE - 1)
    if #ids == 0 then break end
    from = from + #ids
    local states = redis.call('HMGET', KEYS[2], unpack(ids))
    for i, s in ipairs(states) do
      if s then
        local bar = string.find(s, '|', 1, true)
        if not bar then
          -- (returned, not counted: the backend reports it as corrupt, and the tally counts it as it was)
          out[#out + 1] = ids[i]
          out[#out + 1] = s
        elseif wanted[string.sub(s, 1, bar - 1)] then
          out[#out + 1] = ids[i]
          out[#out + 1] = s
          found = found + 1
          if target and found >= target then break end
        end
      end
    end
  end
  return out
end


local packed = redis.call('HGETALL', KEYS[2])
local out = {}
-- with a limit: a max-heap of the `limit` lowest seqs seen (index into `packed`), so a page costs a pass, not a sort
local heap, seqs = {}, {}
local function swap(a, b) heap[a], heap[b] = heap[b], heap[a] end
local function push(i, seq)
  seqs[i] = seq
  heap[#heap + 1] = i
  local c = #heap
  while c > 1 do
    local p = math.floor(c / 2)
    if seqs[heap[p]] >= seqs[heap[c]] then break end
    swap(p, c)
    c = p
  end
end
local function replaceTop(i, seq)
  seqs[i] = seq
  heap[1] = i
  local p, n = 1, #heap
  while true do
    local l, r, m = 2 * p, 2 * p + 1, p
    if l <= n and seqs[heap[l]] > seqs[heap[m]] then m = l end
    if r <= n and seqs[heap[r]] > seqs[heap[m]] then m = r end
    if m == p then break end
    swap(p, m)
    p = m
  end
end
for i = 1, #packed, 2 do
  local s = packed[i + 1]
  local bar = string.find(s, '|', 1, true)
  if not bar then
    -- a state without a status field is returned too: the backend reports it as corrupt
    out[#out + 1] = packed[i]
    out[#out + 1] = s
  elseif wanted[string.sub(s, 1, bar - 1)] then
    if limit == 0 then
      out[#out + 1] = packed[i]
      out[#out + 1] = s
    else
      local seq = tonumber(string.match(s, '^[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|'))
      if not seq then
        out[#out + 1] = packed[i]
        out[#out + 1] = s
      elseif #heap < limit then push(i, seq)
      elseif seq < seqs[heap[1]] then replaceTop(i, seq) end
    end
  end
end
for _, i in ipairs(heap) do
  out[#out + 1] = packed[i]
  out[#out + 1] = packed[i + 1]
end
return out
