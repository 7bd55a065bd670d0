-- renew.lua — extends the locks of running jobs. ARGV: new deadline, then (id, token) pairs.
-- Returns the ids whose lock was lost.
local deadline = tonumber(ARGV[1])
local ids = {}
for i = 2, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local held = redis.call('HMGET', Q .. 'locks', unpack(ids))
local lost = {}
for j, id in ipairs(ids) do
  if lock_split(held[j]) == ARGV[2 * j + 1] then
    redis.call('ZADD', Q .. 'active', 'XX', deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
