-- Reserve up to N slots, each on the Worker of a pool with the most free slots at that moment,
-- atomically, so that dispatcher replicas deciding at the same moment never oversubscribe a Worker.
--
-- KEYS[1]      the pool's capacity hash: workerId -> "limit busy" (busy = the Worker's own used + queued)
-- KEYS[2..n+1] the slot ledger (sorted set: reservationId -> lease expiry) of each candidate Worker
-- KEYS[n+2..]  only with ARGV[6] = '1' or '2': the pool queue's wait list, prioritized set and delayed
--              set (tasks waiting for a retry count as waiting)
-- ARGV[1]      now (ms)
-- ARGV[2]      lease expiry of the new reservations (ms)
-- ARGV[3]      reservation id prefix; the i-th reservation is "<prefix>:<i>"
-- ARGV[4]      a Worker to use only if no other has room ('' for none)
-- ARGV[5]      how many slots are wanted
-- ARGV[6]      '0': just reserve
--              '1': reserve only while the pool's queue is empty (a task that skips the queue may do so
--                   only when nothing waits in it)
--              '2': reserve, and when nothing could be reserved while tasks wait, say so with {''}
-- ARGV[7..]    the candidate Worker ids, in the order of KEYS[2..]
-- Returns the chosen Worker id of each reservation made (possibly none).

local candidates = #ARGV - 6
local function tasksWaiting()
  return redis.call('LLEN', KEYS[candidates + 2]) + redis.call('ZCARD', KEYS[candidates + 3]) + redis.call('ZCARD', KEYS[candidates + 4]) > 0
end
if ARGV[6] == '1' and tasksWaiting() then
  return {}
end

local free, keyOf = {}, {}
for i = 7, #ARGV do
  local id = ARGV[i]
  local capacity = redis.call('HGET', KEYS[1], id)
  if capacity then
    local limit, busy = string.match(capacity, '^(%d+) (%d+)$')
    local key = KEYS[i - 5]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
    local ours = redis.call('ZCARD', key)
    -- Neither view alone is safe: the Worker's count lags our sends, ours misses other clients.
    free[id] = tonumber(limit) - math.max(ours, tonumber(busy))
    keyOf[id] = key
  end
end

local chosen = {}
for n = 1, tonumber(ARGV[5]) do
  local best, bestFree = nil, 0
  for i = 7, #ARGV do
    local id = ARGV[i]
    local f = free[id]
    if f and f > 0 and id ~= ARGV[4] and f > bestFree then
      best, bestFree = id, f
    end
  end
  if not best and free[ARGV[4]] and free[ARGV[4]] > 0 then
    best = ARGV[4]
  end
  if not best then
    break
  end
  redis.call('ZADD', keyOf[best], ARGV[2], ARGV[3] .. ':' .. n)
  -- The ledger may expire once its longest lease has: extend it, never shorten it (leases may differ by caller).
  local ttl = redis.call('PTTL', keyOf[best])
  if ttl < 0 or tonumber(ARGV[1]) + ttl < tonumber(ARGV[2]) then
    redis.call('PEXPIREAT', keyOf[best], ARGV[2])
  end
  free[best] = free[best] - 1
  chosen[#chosen + 1] = best
end
if #chosen == 0 and ARGV[6] == '2' and tasksWaiting() then
  return {''}
end
return chosen
