-- release.lua — a draining consumer gives running jobs back, first in line, the attempt not
-- counted. ARGV: (id, token) pairs. Returns how many it gave back.
local n = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local jk = jkey(id)
  if redis.call('HGET', jk, 'lk') == ARGV[i + 1] then
    redis.call('ZREM', Q .. 'active', id)
    redis.call('HDEL', jk, 'lk')
    redis.call('HINCRBY', jk, 'am', -1)
    redis.call('RPUSH', Q .. 'wait', id)
    redis.call('HSET', jk, 'st', 'waiting')
    n = n + 1
  end
end
if n > 0 then signal() end
return n
