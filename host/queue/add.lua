-- add.lua — adds jobs: ARGV holds 12 values per job (see add_job). Returns id, created pairs.
local out = {}
redis.call('SADD', P .. 'queues', ARGV[1])
for i = 1, #ARGV, 12 do
  local id, created = add_job(i)
  out[#out + 1] = id
  out[#out + 1] = created
end
return out
