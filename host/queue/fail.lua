-- fail.lua — an attempt failed. ARGV: now, id, lock token, code, message, retry delay ms
-- (-1: no attempt left). Returns 0 when the lock was lost, 1 retried, 2 failed for good.
local now, id = tonumber(ARGV[1]), ARGV[2]
local jk = jkey(id)
if redis.call('HGET', jk, 'lk') ~= ARGV[3] then return 0 end
redis.call('ZREM', Q .. 'active', id)
redis.call('HSET', jk, 'fc', ARGV[4], 'fr', ARGV[5])
local delay = tonumber(ARGV[6])
if delay < 0 then
  finish(id, jk, 'failed', redis.call('HGET', jk, 'rf'), now)
  return 2
end
redis.call('HDEL', jk, 'lk')
if delay > 0 then
  redis.call('ZADD', Q .. 'delayed', now + delay, id)
  redis.call('HSET', jk, 'st', 'delayed')
  signal_at(now + delay)
else
  enqueue(id, jk, tonumber(redis.call('HGET', jk, 'pr') or '0') or 0)
  signal()
end
return 1
