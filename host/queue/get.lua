-- get.lua — one job as queue.get reads it. ARGV: id. Returns {} when there is no such job,
-- else { the job hash's fields and values (HGETALL), the running attempt and its start ms
-- ('' and '' when it does not run: its lock, see lock_split, says it runs) }.
local id = ARGV[1]
if not queue_of(id) then return {} end
local token, started = lock_split(redis.call('HGET', Q .. 'locks', id))
return { redis.call('HGETALL', jkey(id)), token and attempt_of(token) or '', started or '' }
