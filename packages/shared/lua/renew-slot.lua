-- Extend a reservation's lease while its task runs. Does nothing if the lease already lapsed
-- (the slot was given back and may be someone else's now).
--
-- KEYS[1] the Worker's slot ledger
-- ARGV[1] reservation id, ARGV[2] new lease expiry (ms), ARGV[3] now (ms)
-- Returns 1 when renewed, 0 when the reservation was gone.

if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if tonumber(ARGV[3]) + redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
