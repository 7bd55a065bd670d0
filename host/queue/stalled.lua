-- stalled.lua — jobs whose lock deadline passed (their worker died or hung) run again, or
-- fail with STALLED past max stalls. Once per check interval per queue across all consumers.
-- ARGV: now, max stalls, check interval ms. Returns (id, 1 requeued | 2 failed) pairs.
local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])
if not redis.call('SET', Q .. 'stalled-check', '1', 'NX', 'PX', ARGV[3]) then return {} end
local ids = redis.call('ZRANGEBYSCORE', Q .. 'active', '-inf', now, 'LIMIT', 0, 1000)
local out = {}
for _, id in ipairs(ids) do
  local jk = jkey(id)
  local token, started = lock_split(redis.call('HGET', Q .. 'locks', id))
  redis.call('ZREM', Q .. 'active', id)
  redis.call('HDEL', Q .. 'locks', id)
  if redis.call('EXISTS', jk) == 1 then
    local sc = redis.call('HINCRBY', jk, 'sc', 1)
    if token then redis.call('HSET', jk, 'am', attempt_of(token), 'pt', started) end
    out[#out + 1] = id
    if sc > max then
      redis.call('HSET', jk, 'fc', 'STALLED',
        'fr', 'the job stalled ' .. sc .. ' times (its worker died or hung past its lock)')
      finish(id, jk, 'failed', redis.call('HGET', jk, 'rf'), now)
      out[#out + 1] = 2
    else
      redis.call('RPUSH', Q .. 'wait', id)
      redis.call('HSET', jk, 'st', 'waiting')
      out[#out + 1] = 1
    end
  end
end
if #out > 0 then signal() end
return out
