-- get.lua — one job as queue.get reads it. ARGV: id. Returns {} when there is no such job,
-- else { the job hash's fields and values (HGETALL), its lock ('' when it does not run) }.
local id = ARGV[1]
if not queue_of(id) then return {} end
return { redis.call('HGETALL', jkey(id)), redis.call('HGET', Q .. 'locks', id) or '' }
