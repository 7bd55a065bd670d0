-- add.lua — adds jobs: ARGV holds 12 values per job (see add_job), all of one queue. Returns
-- id, created pairs. The new numbers are drawn at once and the ready jobs pushed at once, so a
-- batch costs Redis about one call per job.
local out, line = {}, {}
local fresh, ready = 0, false
for i = 1, #ARGV, 12 do
  if ARGV[i + 1] == '' then fresh = fresh + 1 end
  ready = ready or ARGV[i + 4] == '0'
end
local number = fresh > 0 and redis.call('INCRBY', P .. 'id', fresh) - fresh or 0
redis.call('SADD', P .. 'queues', ARGV[1])
for i = 1, #ARGV, 12 do
  local id, created
  if ARGV[i + 1] == '' then
    number = number + 1
    id, created = add_job(i, line, tostring(number))
  else
    id, created = add_job(i, line)
  end
  out[#out + 1] = id
  out[#out + 1] = created
end
if #line > 0 then redis.call('LPUSH', Q .. 'wait', unpack(line)) end
if ready then signal() end
return out
