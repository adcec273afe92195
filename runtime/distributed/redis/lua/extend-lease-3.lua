--[[
  extend-lease: pushes a live lease to backend now + leaseMs; never revives an expired one.

  Input:
    KEYS[1] run HASH
    KEYS[2] item states HASH
    KEYS[3] leases ZSET
    ARGV[1] run id
    ARGV[2] item id
    ARGV[3] lease token
    ARGV[4] lease ms (positive integer)

  Output:
    { 'extended', leaseExpiresAt, runStatus }
    { 'lost', runStatus }                        runStatus '' for an unknown run
]]
--! include common.lua

local status = redis.call('HGET', KEYS[1], 'status')
if not status then return { 'lost', '' } end
if isFinal(status) then return { 'lost', status } end
local now, nowText = nowMs()
local s = redis.call('HGET', KEYS[2], ARGV[2])
local st = s and unpackState(s)
if not st or st.token ~= ARGV[3] or not leaseLive(st, now) then return { 'lost', status } end
st.leaseExp = int(now + tonumber(ARGV[4]))
st.updatedAt = nowText
-- (the status stays in_progress: the run's tally and index of outstanding items, see putState, do not change)
putState(runKeysAt(KEYS[1]), ARGV[2], packState(st), st.node, 'in_progress', 'in_progress')
redis.call('ZADD', KEYS[3], st.leaseExp, queueMember(ARGV[1], ARGV[2]))
return { 'extended', st.leaseExp, status }
