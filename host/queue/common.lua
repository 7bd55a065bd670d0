-- common.lua — prepended to every queue script (host/queue.c): key names and the moves
-- between a queue's sets. KEYS[1] is the prefix ("sq:"), KEYS[2] the queue's ("sq:q:NAME:").
--
-- Keys: P.."id" (job id counter), P.."j:"..id (a job's hash), P.."dd:"..id (an outbox job's
-- dedup mark), P.."queues" (every queue name ever used); per queue Q: wait (list, LPUSH in,
-- RPOP out), prio (zset, priority * 2^32 + arrival), delayed (zset, due ms), active (zset, lock
-- deadline ms: an expired score is a stalled job), completed / failed (zsets, finish ms),
-- meta (hash: paused), limiter (string, rate-limit window), marker (zset a consumer blocks on
-- with BZPOPMIN: member "0" = jobs are ready, "d" = the earliest delayed job's due time), locks
-- (hash: a running job's id -> "token|started ms|rc", see lock_split).
--
-- Job hash fields: q queue, d data (JSON), ts added ms, at attempts (absent: 1), am attempts
-- made before the running one (absent: 0), pr priority, to timeout ms, bo backoff
-- "type:ms:jitter", rc / rf retention of completed / failed as "age_ms:count" (-1 = unbounded;
-- absent: KEEP), st state (absent: waiting; a job in locks is active, whatever st says), pt
-- started ms, ft finished ms, rv result (JSON), fc failure code, fr failure message, sc times
-- found stalled.
-- What changes when a job starts and ends lives in the queue's locks hash, not in the job's:
-- a batch of jobs reads and writes its locks in one call, and a job removed on completion
-- costs one DEL.
-- A script acting on one job by id alone (control.lua, get.lua) gets KEYS[2] = '' and names the queue
-- from the job's own hash (queue_of).
local P, Q = KEYS[1], KEYS[2]

-- Retention when a job names none: completed jobs a day (at most 1000 per queue), failed ones
-- 7 days (at most 10,000). A job stores only what differs from these and from the defaults of
-- its other fields (attempts 1, no priority, timeout or backoff): fewer fields, less work.
local KEEP = { completed = '86400000:1000', failed = '604800000:10000' }

local function jkey(id)
  return P .. 'j:' .. id
end

-- A lock's value: the running attempt's token (the consumer's token ':' the attempt), when it
-- started (ms), and the job's retention of completed ('' for KEEP).
local function lock_of(token, attempt, started, rc)
  return token .. ':' .. attempt .. '|' .. started .. '|' .. (rc or '')
end

-- The three parts of a lock's value, or nil when v is no lock (false: the job does not run).
local function lock_split(v)
  if not v then return nil end
  return string.match(v, '^(.*)|(%d+)|(.*)$')
end

-- The attempt a lock's token names, as the string it is in the token.
local function attempt_of(token)
  return string.match(token, ':(%d+)$')
end

-- Sets Q from job id's queue; false when there is no such job.
local function queue_of(id)
  local q = redis.call('HGET', jkey(id), 'q')
  if not q then return false end
  Q = P .. 'q:' .. q .. ':'
  return true
end

local function signal()
  redis.call('ZADD', Q .. 'marker', 0, '0')
end

local function signal_at(due)
  redis.call('ZADD', Q .. 'marker', 'LT', due, 'd')
end

-- Puts a job in line: the priority set, or the back of the waiting list.
local function enqueue(id, jk, pr)
  if pr > 0 then
    local c = redis.call('INCR', Q .. 'pc') % 4294967296
    redis.call('ZADD', Q .. 'prio', pr * 4294967296 + c, id)
    redis.call('HSET', jk, 'st', 'prioritized')
  else
    redis.call('LPUSH', Q .. 'wait', id)
    redis.call('HSET', jk, 'st', 'waiting')
  end
end

local function delete_jobs(set, ids)
  if #ids == 0 then return end
  for _, id in ipairs(ids) do redis.call('DEL', jkey(id)) end
  redis.call('ZREM', set, unpack(ids))
end

-- Keeps a finished set within the budget "age_ms:count" (-1: no bound on that side).
local function trim(set, keep, now)
  local age, count = string.match(keep or '', '^(%-?%d+):(%-?%d+)$')
  age, count = tonumber(age), tonumber(count)
  if count and count >= 0 then
    local n = redis.call('ZCARD', set)
    if n > count then delete_jobs(set, redis.call('ZRANGE', set, 0, n - count - 1)) end
  end
  if age and age >= 0 then
    delete_jobs(set, redis.call('ZRANGEBYSCORE', set, '-inf', now - age, 'LIMIT', 0, 1000))
  end
end

-- A job that ended (state completed or failed) joins its set, or goes at once with count 0.
-- Its lock is gone already (the caller took it).
local function finish(id, jk, state, keep, now)
  keep = keep or KEEP[state]
  if string.sub(keep, -2) == ':0' then
    redis.call('DEL', jk)
    return
  end
  redis.call('HSET', jk, 'st', state, 'ft', now)
  local set = Q .. state
  redis.call('ZADD', set, now, id)
  trim(set, keep, now)
end

-- A job travels as 12 values: the 10 options a batch of jobs shares (name, now, delay,
-- priority, attempts, timeout, backoff, keep completed, keep failed ('' for KEEP), dedup ms),
-- then its jobId ('' for a new number) and data. A batch sends the 10 once and 2 per job:
-- Redis turns every value into a string, so values sent once per batch are work saved per job.
-- add_opts reads the 10 from ARGV[h .. h+9]; the hash fields every job of them gets are
-- built once here, and add_job only puts its data in.
local function add_opts(h)
  local now, delay, pr = tonumber(ARGV[h + 1]), tonumber(ARGV[h + 2]), tonumber(ARGV[h + 3])
  local st = delay > 0 and 'delayed' or pr > 0 and 'prioritized' or 'waiting'
  local f = { 'q', ARGV[h], 'd', '', 'ts', ARGV[h + 1] }
  if st ~= 'waiting' then f[#f + 1] = 'st'; f[#f + 1] = st end
  if ARGV[h + 4] ~= '1' then f[#f + 1] = 'at'; f[#f + 1] = ARGV[h + 4] end
  if pr > 0 then f[#f + 1] = 'pr'; f[#f + 1] = ARGV[h + 3] end
  if ARGV[h + 5] ~= '0' then f[#f + 1] = 'to'; f[#f + 1] = ARGV[h + 5] end
  if ARGV[h + 6] ~= '' then f[#f + 1] = 'bo'; f[#f + 1] = ARGV[h + 6] end
  if ARGV[h + 7] ~= '' then f[#f + 1] = 'rc'; f[#f + 1] = ARGV[h + 7] end
  if ARGV[h + 8] ~= '' then f[#f + 1] = 'rf'; f[#f + 1] = ARGV[h + 8] end
  return { name = ARGV[h], now = now, delay = delay, pr = pr, dedup = tonumber(ARGV[h + 9]),
    fields = f }
end

-- Adds one job with options o: id ('' for number, or a new number when none is given), data.
-- Returns the id and 1, or the existing id and 0 when a live or retained job (or a dedup mark)
-- has it. A job ready at once joins `line` (pushed by the caller, one LPUSH for many) when
-- given.
local function add_job(o, id, data, line, number)
  if id == '' then
    id = number or tostring(redis.call('INCR', P .. 'id'))
  elseif redis.call('EXISTS', jkey(id)) == 1 or redis.call('EXISTS', P .. 'dd:' .. id) == 1 then
    return id, 0
  end
  o.fields[4] = data
  redis.call('HSET', jkey(id), unpack(o.fields))
  if o.delay > 0 then
    redis.call('ZADD', Q .. 'delayed', o.now + o.delay, id)
    signal_at(o.now + o.delay)
  elseif o.pr > 0 then
    local c = redis.call('INCR', Q .. 'pc') % 4294967296
    redis.call('ZADD', Q .. 'prio', o.pr * 4294967296 + c, id)
  elseif line then
    line[#line + 1] = id
  else
    redis.call('LPUSH', Q .. 'wait', id)
  end
  if o.dedup > 0 then redis.call('SET', P .. 'dd:' .. id, '1', 'PX', o.dedup) end
  return id, 1
end

-- Moves delayed jobs that are due into line; returns the earliest still delayed (or -1).
local function promote(now)
  local due = redis.call('ZRANGEBYSCORE', Q .. 'delayed', '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    for _, id in ipairs(due) do
      local jk = jkey(id)
      enqueue(id, jk, tonumber(redis.call('HGET', jk, 'pr') or '0') or 0)
    end
    redis.call('ZREM', Q .. 'delayed', unpack(due))
  end
  local first = redis.call('ZRANGE', Q .. 'delayed', 0, 0, 'WITHSCORES')
  return first[2] and tonumber(first[2]) or -1
end
