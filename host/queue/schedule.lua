-- schedule.lua — fires a repeatable job once per period, whichever consumer gets here first.
-- ARGV: schedule key, period start ms, then one job's 12 values (add_opts, jobId '', data).
local last = tonumber(redis.call('HGET', Q .. 'schedules', ARGV[1]) or '-1')
local period = tonumber(ARGV[2])
if last >= period then return {} end
redis.call('HSET', Q .. 'schedules', ARGV[1], period)
redis.call('SADD', P .. 'queues', ARGV[3])
local id = add_job(add_opts(3), ARGV[13], ARGV[14])
signal()
return { id }
