--[[
  outstanding-items: a run's outstanding items (pending, in_progress, waiting_retry, parked), or those in the states
  asked for, the first `limit` of them in enqueue order, selected here so that reading them costs no transfer of the
  run's other items (every item of a long run stays in its states hash, and a run page shows 200 of 100,000).

  Input:
    KEYS[1] run HASH
    KEYS[2] states HASH (item id -> packed state, whose first field is the status and tenth the enqueue seq; see
            unpackState in backend.ts)
    ARGV[1] the states to return, comma-separated (the caller's subset of the outstanding ones)
    ARGV[2] limit: at most this many, the lowest seqs (0 = all)

  Output:
    0                                       unknown run
    { itemId, packed state, itemId, packed state, ... }   the items, in no order (the caller sorts by seq)
]]

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local wanted = {}
for s in string.gmatch(ARGV[1], '[^,]+') do wanted[s] = true end
local limit = tonumber(ARGV[2])
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
