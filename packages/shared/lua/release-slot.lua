-- Give a reserved slot back and tell waiting dispatchers that the pool may have room.
--
-- KEYS[1] the Worker's slot ledger
-- ARGV[1] reservation id, ARGV[2] the capacity channel, ARGV[3] the pool id
-- Returns 1 when released, 0 when it was already gone (lease lapsed, or released twice).

local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return removed
