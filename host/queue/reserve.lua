-- reserve.lua — a consumer's step on one queue: completes the jobs it finished, then takes up
-- to n jobs to run. ARGV: now, n, lock ms, lock token prefix, limit max (0: none), limit
-- window ms, completions k, then k triples (id, lock token, result JSON).
-- Returns { next delayed due (-1: none), rate-limit wait ms (0: not limited), lost k,
-- the k' ids whose lock was lost (not completed: the stalled check gave them to another
-- attempt), then 6 values per job taken: id, data, attempt, attempts, timeout, backoff }.
-- Redis' work per job is what makes a queue fast or slow: two calls to complete one (one when
-- it is not kept), two to take one; the sets are updated once per step, not once per job.
local now, n, lockms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now_s = ARGV[1] -- times go back to Redis as the strings they came in: no formatting
local token, lmax, lwin = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local k = tonumber(ARGV[7])
local lost, done, kept = {}, {}, {}
local active = Q .. 'active'
for i = 8, 7 + 3 * k, 3 do
  local id = ARGV[i]
  local jk = jkey(id)
  local f = redis.call('HMGET', jk, 'lk', 'rc')
  if f[1] == ARGV[i + 1] then
    done[#done + 1] = id
    local keep = f[2] or KEEP.completed
    if string.sub(keep, -2) == ':0' then
      redis.call('DEL', jk)
    else
      redis.call('HSET', jk, 'rv', ARGV[i + 2], 'st', 'completed', 'ft', now_s, 'lk', '')
      local ids = kept[keep]
      if not ids then
        ids = {}
        kept[keep] = ids
      end
      ids[#ids + 1] = now_s
      ids[#ids + 1] = id
    end
  else
    lost[#lost + 1] = id
  end
end
if #done > 0 then redis.call('ZREM', active, unpack(done)) end
for keep, members in pairs(kept) do
  redis.call('ZADD', Q .. 'completed', unpack(members))
  trim(Q .. 'completed', keep, now)
end

local next_due = promote(now)
local wait_ms = 0
local jobs = {}
local paused = redis.call('HEXISTS', Q .. 'meta', 'paused') == 1
if n > 0 and not paused then
  if lmax > 0 then
    local used = tonumber(redis.call('GET', Q .. 'limiter') or '0')
    if used >= lmax then
      wait_ms = redis.call('PTTL', Q .. 'limiter')
      if wait_ms < 0 then wait_ms = lwin end
      n = 0
    elseif lmax - used < n then
      n = lmax - used
    end
  end
  local ids = {}
  if n > 0 then
    local z = redis.call('ZPOPMIN', Q .. 'prio', n)
    for i = 1, #z, 2 do ids[#ids + 1] = z[i] end
  end
  if #ids < n then
    local w = redis.call('RPOP', Q .. 'wait', n - #ids)
    if w then for _, id in ipairs(w) do ids[#ids + 1] = id end end
  end
  local deadline = tostring(now + lockms)
  local locks = {}
  for _, id in ipairs(ids) do
    local jk = jkey(id)
    local f = redis.call('HMGET', jk, 'd', 'at', 'to', 'bo', 'am')
    if f[1] then -- a job removed while it waited left only its id behind
      local am = (tonumber(f[5]) or 0) + 1
      redis.call('HSET', jk, 'am', am, 'st', 'active', 'lk', token .. ':' .. am, 'pt', now_s)
      locks[#locks + 1] = deadline
      locks[#locks + 1] = id
      jobs[#jobs + 1] = id
      jobs[#jobs + 1] = f[1]
      jobs[#jobs + 1] = am
      jobs[#jobs + 1] = f[2] or '1'
      jobs[#jobs + 1] = f[3] or '0'
      jobs[#jobs + 1] = f[4] or ''
    end
  end
  if #locks > 0 then redis.call('ZADD', active, unpack(locks)) end
  local taken = #jobs / 6
  if lmax > 0 and taken > 0 then
    if redis.call('INCRBY', Q .. 'limiter', taken) == taken then
      redis.call('PEXPIRE', Q .. 'limiter', lwin)
    end
  end
end
-- Wake another consumer when jobs are left in line; forget the signal when none are, or while
-- the queue is paused (resume signals again): a signal nobody may act on would wake every
-- consumer in a loop.
if not paused and (redis.call('LLEN', Q .. 'wait') > 0
    or redis.call('ZCARD', Q .. 'prio') > 0) then
  signal()
else
  redis.call('ZREM', Q .. 'marker', '0')
end
local out = { next_due, wait_ms, #lost }
for _, id in ipairs(lost) do out[#out + 1] = id end
for _, v in ipairs(jobs) do out[#out + 1] = v end
return out
