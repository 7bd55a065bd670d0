-- The transactional outbox (issue #14): queue.add(..., { tx = tx }) makes a job exist if and
-- only if its PostgreSQL transaction commits. Rolled back: it never runs and leaves no
-- job_outbox row; committed: it runs exactly once and its row is gone; a row left behind by a
-- crash between the commit and the move to Redis is delivered once by the sweeper (a job of
-- the queue speezy.outbox, every 5 s, rows older than 2 s), however many copies of it there
-- are. The rows are the harness database's (spec/run applies the migrations).
local h = require "spec.helpers"

local FIXTURE = "spec/fixtures/scripts/queue_durability"

local function db()
  return h.servers().database_url
end

-- How many job_outbox rows hold this jobId.
local function outbox_rows(job_id)
  return tonumber(h.must_psql(db(), ("SELECT count(*) FROM job_outbox WHERE opts->>'jobId' = %s")
    :format(("'" .. job_id:gsub("'", "''") .. "'"))))
end

local function dollar_quoted(text)
  assert(not text:find("$j$", 1, true))
  return "$j$" .. text .. "$j$"
end

-- Plays a crash between commit and move: `copies` rows exactly as the host wrote `row` (read
-- inside a transaction of POST /outbox), created a minute ago, all in one statement.
local function leave_behind(row, copies)
  local values = {}
  for i = 1, copies do
    values[i] = ("(%s, %s, %s::jsonb, %s::jsonb, now() - interval '1 minute')"):format(
      dollar_quoted(row.queue), dollar_quoted(row.name), dollar_quoted(row.data),
      dollar_quoted(row.opts))
  end
  h.must_psql(db(), "INSERT INTO job_outbox (queue, name, data, opts, created_at) VALUES " ..
    table.concat(values, ", "))
end

describe("queue: the transactional outbox", function()
  local srv
  setup(function()
    srv = h.start { scripts = FIXTURE, env = { WORKERS = "1" } }
  end)
  teardown(function()
    srv:stop()
  end)

  local function outbox(t)
    local res = srv:post_json("/outbox", t)
    assert(res.status == 200, "POST /outbox: " .. res.status_line .. " " .. res.body)
    return res.json
  end

  -- Waits until the sweeper has taken the rows of job_id (none left); raises otherwise.
  local function wait_swept(job_id)
    assert(h.eventually(function() return outbox_rows(job_id) == 0 end, 20000, 200),
      "the sweeper left the job_outbox rows of " .. job_id .. "; log:\n" .. srv:log_tail())
  end

  -- Waits until no job of the queue waits or runs: any job a sweep added has then run.
  local function wait_idle(queue)
    assert(h.eventually(function()
      local c = srv:request({ path = "/counts/" .. queue }).json
      return c.waiting == 0 and c.active == 0 and c.prioritized == 0 and c.delayed == 0
    end, 15000, 50), queue .. " did not go idle")
  end

  it("rolled back: the job never runs and no job_outbox row remains", function()
    local key = h.uniq("rolledback")
    local r = outbox { queue = "dur.serial", data = { key = key }, opts = { jobId = key },
      commit = false }
    assert.equal(key, r.id)
    assert.is_false(r.committed)
    assert.is_false(r.seenInside)
    assert.equal("dur.serial", r.row.queue) -- the row existed inside the transaction
    assert.equal(0, outbox_rows(key))

    -- A job committed next on the same one-at-a-time queue has run: the rolled back one,
    -- had it been added, was in line before it.
    local next_key = h.uniq("next")
    assert.is_true(outbox { queue = "dur.serial", data = { key = next_key },
      opts = { jobId = next_key }, commit = true }.committed)
    srv:wait_trace(next_key, "done", 1)
    assert.is_nil(srv:job(key))
    assert.same({}, srv:job_trace(key))
    assert.equal(0, outbox_rows(key))
  end)

  it("committed: the job runs exactly once and its job_outbox row is gone", function()
    local key = h.uniq("committed")
    local r = outbox { queue = "dur.jobs", data = { key = key }, commit = true }
    assert.is_true(r.committed)
    assert.is_false(r.seenInside)
    assert.truthy(r.id:match("^outbox%-%d+$"), r.id) -- the id given by the row
    -- moved at the commit, before the request ended
    assert.equal(0, outbox_rows(r.id))
    assert.truthy(srv:job(r.id))
    assert.falsy(srv:logs():find("not yet moved to Redis", 1, true), srv:log_tail())

    srv:wait_trace(key, "done", 1)
    local job = h.eventually(function()
      local j = srv:job(r.id)
      return j.state == "completed" and j
    end)
    assert.truthy(job, "the job did not complete")
    assert.same({ key = key }, job.data)
    wait_idle("dur.jobs")
    assert.equal(1, #srv:job_trace(key, "start"))
  end)

  it("a row left behind between commit and move: the sweeper delivers it once, copies too",
    function()
      local key = h.uniq("crash")
      -- The row as the host writes it, from a transaction that then rolls back.
      local row = outbox { queue = "dur.jobs", data = { key = key }, opts = { jobId = key },
        commit = false }.row
      leave_behind(row, 2) -- one statement: a sweep sees both copies or neither

      srv:wait_trace(key, "done", 1, 20000)
      wait_swept(key)
      local job = h.eventually(function()
        local j = srv:job(key)
        return j.state == "completed" and j
      end)
      assert.truthy(job, "the job did not complete")

      -- One more copy, after the job completed: swept, and not run again.
      leave_behind(row, 1)
      wait_swept(key)
      wait_idle("dur.jobs")
      assert.equal(1, #srv:job_trace(key, "start"))
      assert.equal(1, #srv:job_trace(key, "done"))
      -- the sweeper's routine runs stay out of an info log (its warning above does not)
      assert.truthy(srv:logs():find("outbox sweeper moved", 1, true), srv:log_tail())
      assert.falsy(srv:logs():find('"queue":"speezy.outbox"', 1, true), srv:log_tail())
    end)

  it("a row written by hand with only a jobId is delivered once, and does not block others",
    function()
      local key, other = h.uniq("byhand"), h.uniq("other")
      h.must_psql(db(), ("INSERT INTO job_outbox (queue, name, data, opts, created_at) VALUES " ..
        "('dur.jobs', 'dur.jobs', %s, %s, now() - interval '1 minute')"):format(
        dollar_quoted('{"key": "' .. key .. '"}'), dollar_quoted('{"jobId": "' .. key .. '"}')))
      -- a row of the host's, behind it in the same sweep
      leave_behind(outbox { queue = "dur.jobs", data = { key = other }, opts = { jobId = other },
        commit = false }.row, 1)

      srv:wait_trace(key, "done", 1, 20000)
      srv:wait_trace(other, "done", 1, 20000)
      wait_swept(key)
      wait_swept(other)
      local job = srv:job(key)
      assert.equal(1, job.attempts)
      assert.same({ key = key }, job.data)
      wait_idle("dur.jobs")
      assert.equal(1, #srv:job_trace(key, "start"))
    end)

  it("a row whose options have the wrong types runs with the defaults, and blocks nothing",
    function()
      local key, other = h.uniq("typed"), h.uniq("after-typed")
      h.must_psql(db(), ("INSERT INTO job_outbox (queue, name, data, opts, created_at) VALUES " ..
        "('dur.jobs', 'dur.jobs', %s, %s, now() - interval '1 minute')"):format(
        dollar_quoted('{"key": "' .. key .. '"}'),
        dollar_quoted('{"jobId": "' .. key .. '", "delay": "soon", "attempts": "3", ' ..
          '"priority": 1.5, "backoff": 7}')))
      leave_behind(outbox { queue = "dur.jobs", data = { key = other }, opts = { jobId = other },
        commit = false }.row, 1)
      srv:wait_trace(key, "done", 1, 20000)
      srv:wait_trace(other, "done", 1, 20000)
      wait_swept(key)
      wait_swept(other)
      local job = srv:job(key)
      assert.equal(1, job.attempts) -- "3" was not a number: the default
      assert.is_nil(job.priority)
      wait_idle("dur.jobs")
      assert.equal(1, #srv:job_trace(key, "start"))
    end)

  it("a copy of a moved row whose job is already removed (removeOnComplete) still runs once",
    function()
      local key = h.uniq("removed")
      local row = outbox { queue = "dur.jobs", data = { key = key },
        opts = { jobId = key, removeOnComplete = true }, commit = false }.row
      leave_behind(row, 1)
      srv:wait_trace(key, "done", 1, 20000)
      wait_swept(key)
      wait_idle("dur.jobs")
      assert.is_nil(srv:job(key)) -- removed when it completed: only the outbox mark is left

      leave_behind(row, 1)
      wait_swept(key)
      wait_idle("dur.jobs")
      assert.equal(1, #srv:job_trace(key, "start"))
    end)
end)
