--[[
  release: gives a live lease back untouched (same attempt), at the head of its run's ready list; the claim's
  delivery is taken back (a given-back item was neither crashed on nor stalled: it is no step towards poison).

  Input:
    KEYS[1] run HASH
    KEYS[2] item states HASH
    KEYS[3] ready LIST
    KEYS[4] leases ZSET
    ARGV[1] key prefix P
    ARGV[2] run id R
    ARGV[3] item id
    ARGV[4] lease token
    ARGV[5] '1' when the worker could not run the item (counted in the run's m:misrouted), else ''

  Keys derived from KEYS[1] (P run:{R}), and from P and the run's workflow W and fingerprint F:
    P run:{R}:tally      HASH  items per state and node, as moves (tallyCounts) (includes/common.lua putState)
    P ring:W@F           LIST  the run goes back on its ring when its ready list was empty

  Output:
    1                                             released
    0                                             the lease is not live (or the run is unknown)
]]
--! include common.lua

local meta = redis.call('HMGET', KEYS[1], 'status', 'workflow', 'fingerprint', 'tallied')
if not meta[1] then return 0 end
local now, nowText = nowMs()
local s = redis.call('HGET', KEYS[2], ARGV[3])
local st = s and unpackState(s)
if not st or st.token ~= ARGV[4] or not leaseLive(st, now) then return 0 end
st.status = 'pending'
st.deliveries = int(math.max((tonumber(st.deliveries) or 1) - 1, 0))
st.token = ''
st.leaseExp = ''
st.updatedAt = nowText
local K = runKeysAt(KEYS[1])
K.tallied = meta[4] == '1'
putState(K, ARGV[3], packState(st), st.node, 'in_progress', 'pending')
redis.call('ZREM', KEYS[4], queueMember(ARGV[2], ARGV[3]))
if ARGV[5] == '1' then bump(KEYS[1], 'm:misrouted', 1) end
if redis.call('LPUSH', KEYS[3], ARGV[3]) == 1 and meta[1] == 'running' then ringPush(ARGV[1], ringOf(meta[2], meta[3]), ARGV[2]) end
return 1
