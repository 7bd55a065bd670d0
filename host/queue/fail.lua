-- fail.lua — an attempt failed. ARGV: now, id, lock token, code, message, retry delay ms
-- (-1: no attempt left). Returns 0 when the lock was lost, 1 retried, 2 failed for good.
local now, id = tonumber(ARGV[1]), ARGV[2]
local jk = jkey(id)
local token, started = lock_split(redis.call('HGET', Q .. 'locks', id))
if token ~= ARGV[3] then return 0 end
redis.call('ZREM', Q .. 'active', id)
redis.call('HDEL', Q .. 'locks', id)
redis.call('HSET', jk, 'fc', ARGV[4], 'fr', ARGV[5], 'am', attempt_of(token), 'pt', started)
local delay = tonumber(ARGV[6])
if delay < 0 then
  finish(id, jk, 'failed', redis.call('HGET', jk, 'rf'), now)
  return 2
end
if delay > 0 then
  redis.call('ZADD', Q .. 'delayed', now + delay, id)
  redis.call('HSET', jk, 'st', 'delayed')
  signal_at(now + delay)
else
  enqueue(id, jk, tonumber(redis.call('HGET', jk, 'pr') or '0') or 0)
  signal()
end
return 1
