-- control.lua — one operator action. ARGV: action, then its arguments; for the actions on
-- one job KEYS[2] may be '' (the job's queue is read from it).
--   pause / resume                      -> 1
--   retry id now                        -> 1, 0 no such job, -1 not failed
--   remove id                           -> 1, 0 no such job, -1 running (locked)
--   retry-failed limit                  -> how many failed jobs it put back in line
--   clean state older-than-ms now limit -> how many finished jobs it deleted
local action = ARGV[1]
if Q == '' and not queue_of(ARGV[2]) then return 0 end

-- A failed job back in line as new: attempts counted from zero again.
local function retry(id, jk)
  redis.call('HSET', jk, 'am', 0, 'sc', 0)
  redis.call('HDEL', jk, 'fc', 'fr', 'ft', 'rv')
  enqueue(id, jk, tonumber(redis.call('HGET', jk, 'pr') or '0') or 0)
end

if action == 'pause' then
  redis.call('HSET', Q .. 'meta', 'paused', '1')
  return 1
elseif action == 'resume' then
  redis.call('HDEL', Q .. 'meta', 'paused')
  signal()
  return 1
elseif action == 'retry' then
  local id = ARGV[2]
  local jk = jkey(id)
  if redis.call('EXISTS', jk) == 0 then return 0 end
  if redis.call('ZREM', Q .. 'failed', id) == 0 then return -1 end
  retry(id, jk)
  signal()
  return 1
elseif action == 'retry-failed' then
  local ids = redis.call('ZRANGE', Q .. 'failed', 0, tonumber(ARGV[2]) - 1)
  for _, id in ipairs(ids) do
    local jk = jkey(id)
    if redis.call('EXISTS', jk) == 1 then retry(id, jk) end
  end
  if #ids > 0 then
    redis.call('ZREM', Q .. 'failed', unpack(ids))
    signal()
  end
  return #ids
elseif action == 'remove' then
  local id = ARGV[2]
  local jk = jkey(id)
  if redis.call('EXISTS', jk) == 0 then return 0 end
  if redis.call('HEXISTS', Q .. 'locks', id) == 1 then return -1 end
  redis.call('LREM', Q .. 'wait', 0, id)
  for _, s in ipairs({ 'prio', 'delayed', 'completed', 'failed' }) do
    redis.call('ZREM', Q .. s, id)
  end
  redis.call('DEL', jk, P .. 'dd:' .. id)
  return 1
elseif action == 'clean' then
  local set = Q .. ARGV[2]
  local ids = redis.call('ZRANGEBYSCORE', set, '-inf', tonumber(ARGV[4]) - tonumber(ARGV[3]),
    'LIMIT', 0, tonumber(ARGV[5]))
  delete_jobs(set, ids)
  return #ids
end
return redis.error_reply('ERR unknown queue action ' .. tostring(action))
