-- add.lua — adds jobs of one queue that share their options: ARGV holds the 10 shared values
-- (see add_opts), then jobId and data per job. Returns id, created pairs. The new numbers are
-- drawn at once and the ready jobs pushed at once, so a batch costs Redis about one call per
-- job.
local o = add_opts(1)
local out, line = {}, {}
local fresh = 0
for i = 11, #ARGV, 2 do
  if ARGV[i] == '' then fresh = fresh + 1 end
end
local number = fresh > 0 and redis.call('INCRBY', P .. 'id', fresh) - fresh or 0
redis.call('SADD', P .. 'queues', o.name)
for i = 11, #ARGV, 2 do
  local id, created
  if ARGV[i] == '' then
    number = number + 1
    id, created = add_job(o, '', ARGV[i + 1], line, tostring(number))
  else
    id, created = add_job(o, ARGV[i], ARGV[i + 1], line)
  end
  out[#out + 1] = id
  out[#out + 1] = created
end
if #line > 0 then redis.call('LPUSH', Q .. 'wait', unpack(line)) end
if o.delay == 0 then signal() end
return out
