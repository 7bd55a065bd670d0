-- speezy.queue — jobs on Redis: add them from handlers and jobs, declare who runs them.
--
--   local id, err = queue.add("mail.send", { to = "..." }, { delay = 5000, attempts = 3 })
--   pg.tx(function(tx) ... queue.add("mail.send", data, { tx = tx }) end) -- iff it commits
--   queue.process("mail.send", { concurrency = 4 }, function(job) return { sent = true } end)
--   queue.schedule("cleanup", { every = 60000 }, data)     -- or { cron = "*/5 * * * *" }
--   queue.get(id); queue.counts(name); queue.pause(name); queue.resume(name)
--   queue.retry(id); queue.remove(id)
--
-- process and schedule are declarations: made while scripts load, they belong to that script
-- generation. Everything else is I/O: it yields the calling request's or job's coroutine.
-- Runtime failures are nil, err with err.code QUEUE_UNAVAILABLE (Redis down or full),
-- INVALID_OPTIONS (naming the option), NOT_FOUND or INVALID_STATE; misuse raises.
-- The Redis scripts are the host's (host/queue/*.lua), the same ones its consumer runs.
local core = require "speezy.core"
local json = require "speezy.json"
local redis = require "speezy.redis"
local qcore = require "speezy.queue.core"
local raise_misuse = require("speezy.misuse").raise

local M = {}

local PREFIX = qcore.prefix
local OUTBOX_DEDUP_MS = 24 * 3600 * 1000 -- an outbox row moved twice still runs once
local OUTBOX_SWEEP_MS = 5000
local OUTBOX_QUEUE = "speezy.outbox"

local handlers, decls, schedules = {}, {}, {}
local booting = true

local scripts = setmetatable({}, {
  __index = function(t, name)
    local text = qcore.script(name)
    t[name] = text
    return text
  end,
})

local Err = {}
Err.__tostring = function(e) return e.code .. ": " .. e.message end

local function fail(code, message)
  return nil, setmetatable({ code = code, message = message }, Err)
end


local function misuse(fname, msg)
  raise_misuse("queue." .. fname, msg)
end

local function check_name(fname, name)
  if type(name) ~= "string" then
    misuse(fname, "queue name must be a string, got " .. type(name))
  end
  if #name == 0 or #name > 200 or name:find("[%c]") then
    misuse(fname, "queue name must be 1 to 200 bytes without control characters")
  end
end

local function qkey(name)
  return PREFIX .. "q:" .. name .. ":"
end

-- Redis' failures as the queue's: anything that is not the script's own answer means the
-- queue can't be reached (down, timed out, out of memory under noeviction).
local function eval(script, name, args)
  local res, err = redis.eval(scripts[script], { PREFIX, name and qkey(name) or "" }, args)
  if res == nil and err then return fail("QUEUE_UNAVAILABLE", err.message or tostring(err)) end
  return res
end

-- Options ------------------------------------------------------------------------------

local function is_int(v, min, max)
  return type(v) == "number" and v % 1 == 0 and v >= min and v <= max
end

-- "age_ms:count", or "" for the default budget (host/queue/common.lua's KEEP).
local function keep_spec(opt, v)
  if v == nil then return "" end
  if v == true then return "-1:0" end
  if v == false then return "-1:-1" end
  if is_int(v, 0, 2 ^ 31) then return "-1:" .. v end
  if type(v) == "table" then
    for k in pairs(v) do
      if k ~= "age" and k ~= "count" then return nil, opt .. "." .. tostring(k) .. " is unknown" end
    end
    if v.age ~= nil and not is_int(v.age, 0, 2 ^ 40) then
      return nil, opt .. ".age must be whole seconds >= 0"
    end
    if v.count ~= nil and not is_int(v.count, 0, 2 ^ 31) then
      return nil, opt .. ".count must be an integer >= 0"
    end
    return (v.age and ("%d"):format(v.age * 1000) or "-1") .. ":" .. (v.count or -1)
  end
  return nil, opt .. " must be true, false, a count or { age = seconds, count = n }"
end

local function backoff_spec(v)
  if v == nil then return "" end
  if is_int(v, 0, 2 ^ 40) then return "fixed:" .. v .. ":0" end
  if type(v) ~= "table" then return nil, "backoff must be ms or { type, delay, jitter }" end
  for k in pairs(v) do
    if k ~= "type" and k ~= "delay" and k ~= "jitter" then
      return nil, "backoff." .. tostring(k) .. " is unknown"
    end
  end
  if v.type ~= "fixed" and v.type ~= "exponential" then
    return nil, 'backoff.type must be "fixed" or "exponential"'
  end
  if not is_int(v.delay or 0, 0, 2 ^ 40) then return nil, "backoff.delay must be ms >= 0" end
  local jitter = v.jitter or 0
  if type(jitter) ~= "number" or jitter < 0 or jitter > 1 then
    return nil, "backoff.jitter must be a number from 0 to 1"
  end
  return ("%s:%d:%.17g"):format(v.type, v.delay or 0, jitter)
end

local KNOWN = {
  jobId = true, delay = true, priority = true, attempts = true, backoff = true, timeout = true,
  removeOnComplete = true, removeOnFail = true, tx = true,
}

-- The job's fields as add.lua reads them (after name, jobId and data), or nil, message.
local function normalize(opts)
  for k in pairs(opts) do
    if not KNOWN[k] then return nil, "unknown option " .. tostring(k) end
  end
  local o = {}
  local id = opts.jobId
  if id ~= nil then
    if type(id) ~= "string" or #id == 0 or #id > 512 or id:find("%c") then
      return nil, "jobId must be a string of 1 to 512 bytes without control characters"
    end
    if id:match("^%d+$") then
      return nil, "jobId must not be a plain integer: those are the queue's own ids"
    end
  end
  o.jobId = id or ""
  if opts.delay ~= nil and not is_int(opts.delay, 0, 2 ^ 40) then
    return nil, "delay must be whole ms >= 0"
  end
  o.delay = opts.delay or 0
  if opts.priority ~= nil and not is_int(opts.priority, 1, 2 ^ 21) then
    return nil, "priority must be an integer from 1 to 2097152"
  end
  o.priority = opts.priority or 0
  if opts.attempts ~= nil and not is_int(opts.attempts, 1, 1000) then
    return nil, "attempts must be an integer from 1 to 1000"
  end
  o.attempts = opts.attempts or 1
  if opts.timeout ~= nil and not is_int(opts.timeout, 1, 2 ^ 40) then
    return nil, "timeout must be whole ms > 0"
  end
  o.timeout = opts.timeout or 0
  local err
  o.backoff, err = backoff_spec(opts.backoff)
  if not o.backoff then return nil, err end
  o.keepCompleted, err = keep_spec("removeOnComplete", opts.removeOnComplete)
  if not o.keepCompleted then return nil, err end
  o.keepFailed, err = keep_spec("removeOnFail", opts.removeOnFail)
  if not o.keepFailed then return nil, err end
  return o
end

-- queue.add without options, the common case, skips the checks above.
local DEFAULTS = assert(normalize {})

local function now_ms()
  return ("%d"):format(core.now() * 1000)
end

-- One job as add.lua takes it (host/queue/common.lua, add_opts): the 10 values a batch of
-- jobs shares (name, now, options), then jobId and data; all strings.
local function add_args(name, data_json, o, dedup_ms)
  return { name, now_ms(), tostring(o.delay), tostring(o.priority), tostring(o.attempts),
    tostring(o.timeout), o.backoff, o.keepCompleted, o.keepFailed, tostring(dedup_ms or 0),
    o.jobId, data_json }
end

local function encode_data(data)
  if data == nil then return "{}" end
  local ok, text = pcall(json.encode, data)
  if not ok or text == nil then return nil end
  return text
end

-- The outbox -----------------------------------------------------------------------------
-- queue.add{tx = tx} writes the job into job_outbox inside the transaction; after the commit
-- the same coroutine moves it to Redis and deletes the row. A row left behind (a crash between
-- commit and move) is moved by the sweeper, a scheduled job. The job's id is fixed when the row
-- is written (jobId, or "outbox-<row id>"), and Redis keeps a dedup mark for a day, so a row
-- moved twice still runs once.

local function move(row_id, name, data_json, o)
  local ok, err = eval("add", name, add_args(name, data_json, o, OUTBOX_DEDUP_MS))
  if not ok then return nil, err end
  local pg = require "speezy.pg"
  local done, derr = pg.query("DELETE FROM job_outbox WHERE id = $1", row_id)
  if not done then return nil, derr end -- on success the 2nd value is the row count
  return true
end

local function add_in_tx(tx, name, data_json, o)
  if type(tx) ~= "table" or type(tx.query) ~= "function"
      or type(tx.after_commit) ~= "function" then
    misuse("add", "option tx must be the transaction pg.tx passed to its function")
  end
  local rows, err = tx:query([[INSERT INTO job_outbox (queue, name, data, opts)
                                VALUES ($1, $1, $2::jsonb, '{}') RETURNING id]], name, data_json)
  if not rows then return nil, err end
  local row_id = rows[1].id
  if o.jobId == "" then o.jobId = "outbox-" .. row_id end
  local opts_json = json.encode(o)
  local updated, uerr = tx:query("UPDATE job_outbox SET opts = $2::jsonb WHERE id = $1", row_id,
    opts_json)
  if not updated then return nil, uerr end
  tx:after_commit(function()
    local ok, merr = move(row_id, name, data_json, o)
    if not ok then
      core.log("warn", ("queue %s: job %s committed but not yet moved to Redis (%s); the outbox " ..
        "sweeper will move it"):format(name, o.jobId, tostring(merr)))
    end
  end)
  return o.jobId
end

-- A row's options as add_in_tx writes them. A row written another way (by hand, by SQL) may
-- hold fewer: the missing ones take queue.add's defaults, and a missing jobId the one
-- add_in_tx would have given the row. Without them add.lua would refuse the row, and with it
-- every sweep, so no row behind it would ever be moved.
local function row_opts(row_id, text)
  local o = json.decode(text)
  if type(o) ~= "table" then o = {} end
  -- a value of the wrong type (a row written by hand) takes the default too: add.lua would
  -- refuse it, and with it the row, at every sweep
  for k, v in pairs(DEFAULTS) do
    if type(o[k]) ~= type(v) or (type(v) == "number" and o[k] % 1 ~= 0) then o[k] = v end
  end
  if o.jobId == "" then o.jobId = "outbox-" .. row_id end
  return o
end

local function sweep()
  local pg = require "speezy.pg"
  -- One cheap read first: nearly always nothing was left behind, and a transaction would hold
  -- a pooled connection for nothing every few seconds in every instance.
  local left = assert(pg.query([[SELECT 1 FROM job_outbox
                                  WHERE created_at < now() - interval '2 seconds' LIMIT 1]]))
  if #left == 0 then return { moved = 0 } end
  return pg.tx(function(tx)
    local rows = assert(tx:query([[SELECT id, queue, data::text AS data, opts::text AS opts
                                    FROM job_outbox
                                   WHERE created_at < now() - interval '2 seconds'
                                   ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED]]))
    local moved = {}
    for _, r in ipairs(rows) do
      local o = row_opts(r.id, r.opts)
      local ok, err = eval("add", r.queue, add_args(r.queue, r.data, o, OUTBOX_DEDUP_MS))
      if ok then
        moved[#moved + 1] = r.id
      else -- later, behind the others: a row Redis refuses must not hold up every sweep
        core.log("error", ("outbox row %s (queue %s) not moved: %s"):format(r.id, r.queue,
          tostring(err)))
        assert(tx:query("UPDATE job_outbox SET created_at = now() WHERE id = $1", r.id))
      end
    end
    for _, id in ipairs(moved) do assert(tx:query("DELETE FROM job_outbox WHERE id = $1", id)) end
    if #moved > 0 then
      core.log("warn", ("outbox sweeper moved %d job(s) left behind after their commit"):format(
        #moved))
    end
    return { moved = #moved }
  end)
end

-- Adding -----------------------------------------------------------------------------------

function M.add(name, data, opts)
  check_name("add", name)
  if opts ~= nil and type(opts) ~= "table" then
    misuse("add", "options must be a table, got " .. type(opts))
  end
  local o, why = DEFAULTS, nil
  if opts then o, why = normalize(opts) end
  if not o then return fail("INVALID_OPTIONS", "queue.add: " .. why) end
  local data_json = encode_data(data)
  if not data_json then
    return fail("INVALID_OPTIONS", "queue.add: data cannot be encoded as JSON")
  end
  if opts and opts.tx ~= nil then return add_in_tx(opts.tx, name, data_json, o) end
  -- leaves with the turn's other adds that share its queue and options
  local op, err = qcore.add(add_args(name, data_json, o))
  if not op then return nil, err end
  qcore.wait(op)
  return qcore.result(op)
end

-- Reading and operating --------------------------------------------------------------------

local function num(v)
  return v and tonumber(v) or nil
end

local function decode(v)
  if v == nil then return nil end
  local d = json.decode(v)
  return d
end

function M.get(id)
  if type(id) ~= "string" and type(id) ~= "number" then
    misuse("get", "id must be a string, got " .. type(id))
  end
  local r, err = eval("get", nil, { tostring(id) })
  if not r then return nil, err end
  if #r == 0 then return nil end
  local flat, f = r[1], {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  if r[2] ~= "" then f.st, f.am, f.pt = "active", r[2], r[3] end -- it runs: get.lua
  return {
    id = tostring(id), name = f.q, state = f.st or "waiting", data = decode(f.d),
    attempt = num(f.am) or 0, attempts = num(f.at) or 1, result = decode(f.rv),
    failedReason = f.fr, failedCode = f.fc, addedAt = num(f.ts), processedAt = num(f.pt),
    finishedAt = num(f.ft), priority = num(f.pr) ~= 0 and num(f.pr) or nil,
    stalled = num(f.sc),
  }
end

local COUNTS = { "waiting", "active", "delayed", "prioritized", "completed", "failed", "paused" }

function M.counts(name)
  check_name("counts", name)
  local r, err = eval("counts", name, {})
  if not r then return nil, err end
  local out = {}
  for i, k in ipairs(COUNTS) do out[k] = r[i] end
  out.isPaused = r[8] == 1
  return out
end

local function control(fname, name, action, ...)
  local r, err = eval("control", name, { action, ... })
  if not r then return nil, err end
  if r == 0 then return fail("NOT_FOUND", "queue." .. fname .. ": no such job") end
  if r == -1 then
    return fail("INVALID_STATE", fname == "retry" and "queue.retry: the job has not failed"
      or "queue.remove: the job is running (its lock is held)")
  end
  return true
end

function M.pause(name)
  check_name("pause", name)
  return control("pause", name, "pause")
end

function M.resume(name)
  check_name("resume", name)
  return control("resume", name, "resume")
end

local function check_id(fname, id)
  if type(id) ~= "string" or #id == 0 then misuse(fname, "id must be a non-empty string") end
end

function M.retry(id)
  check_id("retry", id)
  return control("retry", nil, "retry", id)
end

function M.remove(id)
  check_id("remove", id)
  return control("remove", nil, "remove", id)
end

-- Declarations -----------------------------------------------------------------------------

local function check_booting(fname)
  if not booting then misuse(fname, "jobs are declared only while scripts load (top level)") end
end

function M.process(name, opts, fn)
  check_booting("process")
  check_name("process", name)
  if type(opts) == "function" and fn == nil then opts, fn = {}, opts end
  if type(opts) ~= "table" then misuse("process", "options must be a table") end
  if type(fn) ~= "function" then misuse("process", "handler must be a function") end
  if handlers[name] then misuse("process", "queue " .. name .. " already has a handler") end
  for k in pairs(opts) do
    if k ~= "concurrency" and k ~= "limit" and k ~= "maxStalled" then
      misuse("process", "unknown option " .. tostring(k))
    end
  end
  local conc = opts.concurrency or 1
  if not is_int(conc, 1, 10000) then misuse("process", "concurrency must be 1 to 10000") end
  local limit = opts.limit
  if limit ~= nil and (type(limit) ~= "table" or not is_int(limit.max, 1, 2 ^ 31)
      or not is_int(limit.duration, 1, 2 ^ 40)) then
    misuse("process", "limit must be { max = jobs, duration = ms }")
  end
  local ms = opts.maxStalled or 1
  if not is_int(ms, 0, 1000) then misuse("process", "maxStalled must be 0 to 1000") end
  handlers[name] = fn
  decls[#decls + 1] = {
    name = name, concurrency = conc, limit_max = limit and limit.max or 0,
    limit_ms = limit and limit.duration or 0, max_stalled = ms,
  }
end

function M.schedule(name, spec, data, opts)
  check_booting("schedule")
  check_name("schedule", name)
  if type(spec) ~= "table" then misuse("schedule", "expects { every = ms } or { cron = expr }") end
  local s = { queue = name }
  if spec.every ~= nil and spec.cron == nil then
    if not is_int(spec.every, 1000, 2 ^ 40) then
      misuse("schedule", "every must be whole ms >= 1000")
    end
    s.every = spec.every
  elseif spec.cron ~= nil and spec.every == nil then
    if type(spec.cron) ~= "string" then misuse("schedule", "cron must be a string") end
    local ok, why = qcore.cron_check(spec.cron)
    if not ok then misuse("schedule", why) end
    s.cron = spec.cron
  else
    misuse("schedule", "expects exactly one of every or cron")
  end
  if opts ~= nil and (type(opts) ~= "table" or opts.jobId or opts.delay or opts.tx) then
    misuse("schedule", "options may not hold jobId, delay or tx")
  end
  local o, why = normalize(opts or {})
  if not o then misuse("schedule", why) end
  local data_json = encode_data(data)
  if not data_json then misuse("schedule", "data cannot be encoded as JSON") end
  s.args = add_args(name, data_json, o)
  schedules[#schedules + 1] = s
end

-- The host's side ---------------------------------------------------------------------------

-- Runs one job in its coroutine: true, result JSON | false, code, message.
function M._run(name, id, data, attempt, attempts)
  local fn = handlers[name]
  if not fn then
    return false, "NO_HANDLER", "this script generation has no handler for queue " .. name
  end
  local job = { id = id, name = name, data = json.decode(data), attempt = attempt,
    attempts = attempts }
  local ok, res, err = xpcall(fn, debug.traceback, job)
  if not ok then
    core.log("error", ("job %s of queue %s raised: %s"):format(id, name, tostring(res)))
    local msg = type(res) == "table" and (res.message or tostring(res)) or tostring(res)
    return false, type(res) == "table" and res.code or "ERROR", (msg:match("^[^\n]*"))
  end
  if res == nil and err ~= nil then
    if type(err) == "table" then return false, err.code or "ERROR", tostring(err.message or err) end
    return false, "ERROR", tostring(err)
  end
  local eok, text = pcall(json.encode, res)
  if not eok or text == nil then
    return false, "INVALID_RESULT", "the handler's result cannot be encoded as JSON"
  end
  return true, text
end

-- Ends the declarations; what the host consumes for this generation.
function M._finish(has_database)
  booting = false
  if has_database and not handlers[OUTBOX_QUEUE] then
    handlers[OUTBOX_QUEUE] = sweep
    decls[#decls + 1] = { name = OUTBOX_QUEUE, concurrency = 1, limit_max = 0, limit_ms = 0,
      max_stalled = 1 }
    local o = assert(normalize { removeOnComplete = true, removeOnFail = 100 })
    local s = { queue = OUTBOX_QUEUE, every = OUTBOX_SWEEP_MS,
      args = add_args(OUTBOX_QUEUE, "{}", o) }
    schedules[#schedules + 1] = s
  end
  return { queues = decls, schedules = schedules }
end

return M
