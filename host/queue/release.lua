-- release.lua — a draining consumer gives running jobs back, first in line, the attempt not
-- counted (the job's am is only written when an attempt ends). ARGV: (id, token) pairs.
-- Returns how many it gave back.
local ids = {}
for i = 1, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return 0 end
local held = redis.call('HMGET', Q .. 'locks', unpack(ids))
local n = 0
for j, id in ipairs(ids) do
  if lock_split(held[j]) == ARGV[2 * j] then
    redis.call('ZREM', Q .. 'active', id)
    redis.call('HDEL', Q .. 'locks', id)
    redis.call('RPUSH', Q .. 'wait', id)
    redis.call('HSET', jkey(id), 'st', 'waiting')
    n = n + 1
  end
end
if n > 0 then signal() end
return n
