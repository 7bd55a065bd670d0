-- counts.lua — waiting, active, delayed, prioritized, completed, failed, paused. While a queue
-- is paused its waiting jobs count as paused.
local paused = redis.call('HEXISTS', Q .. 'meta', 'paused')
local waiting = redis.call('LLEN', Q .. 'wait')
local out = { waiting, redis.call('ZCARD', Q .. 'active'), redis.call('ZCARD', Q .. 'delayed'),
  redis.call('ZCARD', Q .. 'prio'), redis.call('ZCARD', Q .. 'completed'),
  redis.call('ZCARD', Q .. 'failed'), 0, paused }
if paused == 1 then out[1], out[7] = 0, waiting end
return out
