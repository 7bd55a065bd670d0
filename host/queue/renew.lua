-- renew.lua — extends the locks of running jobs. ARGV: new deadline, then (id, token) pairs.
-- Returns the ids whose lock was lost.
local deadline = tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', jkey(id), 'lk') == ARGV[i + 1] then
    redis.call('ZADD', Q .. 'active', 'XX', deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
