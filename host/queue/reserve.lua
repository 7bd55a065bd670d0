-- reserve.lua — a consumer's step on one queue: completes the jobs it finished, then takes up
-- to n jobs to run. ARGV: now, n, lock ms, lock token prefix, limit max (0: none), limit
-- window ms, completions k, then k triples (id, lock token, result JSON).
-- Returns { next delayed due (-1: none), rate-limit wait ms (0: not limited), lost k,
-- the k' ids whose lock was lost (not completed: the stalled check gave them to another
-- attempt), then 6 values per job taken: id, data, attempt, attempts, timeout, backoff }.
-- Redis' work per job is what makes a queue fast or slow: one call to take a job (reading it),
-- one to complete it (DEL, or HSET when it is kept); locks and sets are read and written once
-- per step for all its jobs, not once per job.
local now, n, lockms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now_s = ARGV[1] -- times go back to Redis as the strings they came in: no formatting
local token, lmax, lwin = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local k = tonumber(ARGV[7])
local active, locks = Q .. 'active', Q .. 'locks'
local lost, done, gone, kept = {}, {}, {}, {}
if k > 0 then
  local ids = {}
  for i = 8, 7 + 3 * k, 3 do ids[#ids + 1] = ARGV[i] end
  local held = redis.call('HMGET', locks, unpack(ids))
  for j, id in ipairs(ids) do
    local a = 6 + 3 * j -- ARGV[a] is the lock token of job j, ARGV[a + 1] its result
    local tk, started, rc = lock_split(held[j])
    if tk == ARGV[a] then
      done[#done + 1] = id
      local keep = rc ~= '' and rc or KEEP.completed
      if string.sub(keep, -2) == ':0' then
        gone[#gone + 1] = jkey(id)
      else
        redis.call('HSET', jkey(id), 'rv', ARGV[a + 1], 'st', 'completed', 'ft', now_s,
          'am', attempt_of(tk), 'pt', started)
        local members = kept[keep]
        if not members then
          members = {}
          kept[keep] = members
        end
        members[#members + 1] = now_s
        members[#members + 1] = id
      end
    else
      lost[#lost + 1] = id
    end
  end
end
if #gone > 0 then redis.call('DEL', unpack(gone)) end
if #done > 0 then
  redis.call('ZREM', active, unpack(done))
  redis.call('HDEL', locks, unpack(done))
end
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
  local deadlines, held = {}, {}
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', jkey(id), 'd', 'at', 'to', 'bo', 'am', 'rc')
    if f[1] then -- a job removed while it waited left only its id behind
      local am = (tonumber(f[5]) or 0) + 1
      deadlines[#deadlines + 1] = deadline
      deadlines[#deadlines + 1] = id
      held[#held + 1] = id
      held[#held + 1] = lock_of(token, am, now_s, f[6])
      jobs[#jobs + 1] = id
      jobs[#jobs + 1] = f[1]
      jobs[#jobs + 1] = am
      jobs[#jobs + 1] = f[2] or '1'
      jobs[#jobs + 1] = f[3] or '0'
      jobs[#jobs + 1] = f[4] or ''
    end
  end
  if #held > 0 then
    redis.call('ZADD', active, unpack(deadlines))
    redis.call('HSET', locks, unpack(held))
  end
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
