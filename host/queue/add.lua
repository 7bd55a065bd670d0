-- add.lua — adds jobs of one queue that share their options: ARGV holds the 10 shared values
-- (see add_opts), then jobId and data per job. Returns the number of the first job without a
-- jobId (0: none; the others of the batch have the next numbers, in order), then for each job
-- with a jobId 1 when it was created, 0 when that id existed: the caller knows every id, so the
-- answer does not repeat them. The new numbers are drawn at once and the ready jobs pushed at
-- once, so a batch costs Redis about one call per job.
local o = add_opts(1)
local out, line = {}, {}
local fresh = 0
for i = 11, #ARGV, 2 do
  if ARGV[i] == '' then fresh = fresh + 1 end
end
local number = fresh > 0 and redis.call('INCRBY', P .. 'id', fresh) - fresh or 0
out[1] = fresh > 0 and number + 1 or 0
redis.call('SADD', P .. 'queues', o.name)
for i = 11, #ARGV, 2 do
  if ARGV[i] == '' then
    number = number + 1
    add_job(o, '', ARGV[i + 1], line, string.format('%d', number))
  else
    local _, created = add_job(o, ARGV[i], ARGV[i + 1], line)
    out[#out + 1] = created
  end
end
if #line > 0 then redis.call('LPUSH', Q .. 'wait', unpack(line)) end
if o.delay == 0 then signal() end
return out
