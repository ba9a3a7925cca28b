-- Reserve one slot on the Worker of a pool with the most free slots, atomically, so that
-- dispatcher replicas deciding at the same moment never oversubscribe a Worker.
--
-- KEYS[1]      the pool's capacity hash: workerId -> "limit busy" (busy = the Worker's own used + queued)
-- KEYS[2..n+1] the slot ledger (sorted set: reservationId -> lease expiry) of each candidate Worker
-- ARGV[1]      now (ms)
-- ARGV[2]      lease expiry of the new reservation (ms)
-- ARGV[3]      reservation id
-- ARGV[4]      a Worker to use only if no other has room ('' for none)
-- ARGV[5..]    the candidate Worker ids, in the order of KEYS[2..]
-- Returns the chosen Worker id, or false when every candidate is full.

local best, bestFree, bestKey = nil, 0, nil
local avoided, avoidedKey = nil, nil
for i = 5, #ARGV do
  local id = ARGV[i]
  local capacity = redis.call('HGET', KEYS[1], id)
  if capacity then
    local limit, busy = string.match(capacity, '^(%d+) (%d+)$')
    local key = KEYS[i - 3]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
    local ours = redis.call('ZCARD', key)
    -- Neither view alone is safe: the Worker's count lags our sends, ours misses other clients.
    local free = tonumber(limit) - math.max(ours, tonumber(busy))
    if free > 0 then
      if id == ARGV[4] then
        avoided, avoidedKey = id, key
      elseif free > bestFree then
        best, bestFree, bestKey = id, free, key
      end
    end
  end
end
if not best then
  best, bestKey = avoided, avoidedKey
end
if not best then
  return false
end
redis.call('ZADD', bestKey, ARGV[2], ARGV[3])
-- Every member expires by the newest lease, so the whole ledger may too.
redis.call('PEXPIREAT', bestKey, ARGV[2])
return best
