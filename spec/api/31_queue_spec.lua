-- The job queue's contract through the real binary (issue #14, speezy.queue): a job added from
-- a handler runs on a worker's consumer and its outcome reads back through queue.get; failed
-- attempts are retried with the backoff's spacing until the attempts run out; delayed jobs
-- run on time; prioritized jobs run in order of priority, before the others; an attempt past
-- its timeout fails with TIMEOUT; pause, resume, retry, remove and counts act on the queues;
-- and handlers that fail in every way keep no consumer from the next job.
-- One worker, so a queue's concurrency is its number of slots. Scripts:
-- spec/fixtures/scripts/queue (the trace of every run: jobs/test.lua).
local h = require "spec.helpers"
local cjson = require "cjson"

local SCRIPTS = "spec/fixtures/scripts/queue"

-- A trace key of its own for each job or group of jobs.
local function add(srv, queue, data, opts, n)
  local res = srv:post_json("/add", { queue = queue, data = data, opts = opts, n = n })
  assert.equal(200, res.status, res.body)
  return res.json.id, res.json.ids
end

local function counts(srv, queue)
  local res = srv:request{ path = "/counts/" .. queue }
  assert.equal(200, res.status, res.body)
  local j = res.json
  j.success = nil
  return j
end

local function op(srv, name, arg)
  return srv:request{ method = "POST", path = "/op/" .. name .. "/" .. arg }
end

local function release(srv, name)
  assert.equal(200, srv:request{ method = "POST", path = "/release/" .. name }.status)
end

-- Waits until job id is in state (a job that never gets there fails the test).
local function gaps(list)
  local out = {}
  for i = 2, #list do out[#out + 1] = list[i].at - list[i - 1].at end
  return out
end

-- Measured numbers go to the spec's output (build/test-logs/latest/api-31_queue_spec.log).
local function report(what, values)
  io.stderr:write(("measured: %s: %s\n"):format(what, table.concat(values, ", ")))
end

describe("queue", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("runs an added job and keeps its outcome for queue.get", function()
    local k = h.uniq("done")
    local before = h.now_ms()
    local id = add(srv, "test.jobs", { key = k, result = { sent = true, n = 3 } })
    local after = h.now_ms()
    assert.is_string(id)
    local job = srv:wait_job_state(id, "completed")
    assert.equal(id, job.id)
    assert.equal("test.jobs", job.name)
    assert.same({ key = k, result = { sent = true, n = 3 } }, job.data)
    assert.same({ sent = true, n = 3 }, job.result)
    assert.equal(1, job.attempt)
    assert.equal(1, job.attempts)
    assert.is_nil(job.failedReason)
    assert.is_nil(job.failedCode)
    -- the server's clock is this machine's: loose bounds, the point is the unit (ms)
    assert.is_true(job.addedAt >= before - 1000 and job.addedAt <= after + 1000, job.addedAt)
    assert.is_true(job.finishedAt >= job.addedAt, job.finishedAt)
    local list = srv:job_trace(k)
    assert.equal(1, #list)
    assert.equal(id, list[1].id)
    assert.equal(1, list[1].attempt)
    assert.is_true(list[1].at >= job.addedAt and list[1].at <= job.finishedAt)
    h.assert_error_envelope(srv:request{ path = "/job/no-such-job" }, 404, "NOT_FOUND")
  end)

  it("keeps what a raising handler said, with code ERROR", function()
    local id = add(srv, "test.jobs", { key = h.uniq("crash"), crash = true })
    local job = srv:wait_job_state(id, "failed")
    assert.equal("ERROR", job.failedCode)
    assert.truthy(job.failedReason:find("planned crash", 1, true), job.failedReason)
    assert.equal(1, job.attempt)
    assert.is_nil(job.result)
    assert.is_true(job.finishedAt >= job.addedAt)
  end)

  it("retries with a fixed backoff, then fails with the last error once attempts run out",
    function()
      local k = h.uniq("fixed")
      local id = add(srv, "test.jobs", { key = k, fail = 10 },
        { attempts = 3, backoff = { type = "fixed", delay = 300 } })
      local job = srv:wait_job_state(id, "failed")
      assert.equal(3, job.attempt)
      assert.equal(3, job.attempts)
      assert.equal("TEST_FAIL", job.failedCode)
      assert.equal("planned failure 3", job.failedReason)
      local list = srv:job_trace(k)
      assert.equal(3, #list)
      for i, r in ipairs(list) do assert.equal(i, r.attempt) end
      local g = gaps(list)
      report("fixed backoff 300 ms, gaps (ms)", g)
      for _, gap in ipairs(g) do
        assert.is_true(gap >= 300, "a retry came before its backoff: " .. gap .. " ms")
        assert.is_true(gap < 300 + 1500, "a retry came long after its backoff: " .. gap .. " ms")
      end
    end)

  it("retries with an exponential backoff, doubling each time", function()
    local k = h.uniq("exp")
    local id = add(srv, "test.jobs", { key = k, fail = 3 },
      { attempts = 4, backoff = { type = "exponential", delay = 200 } })
    local job = srv:wait_job_state(id, "completed")
    assert.equal(4, job.attempt)
    assert.same({ ok = true, attempt = 4 }, job.result)
    local list = srv:job_trace(k)
    assert.equal(4, #list)
    local g = gaps(list)
    report("exponential backoff 200 ms, gaps (ms)", g)
    for i, want in ipairs({ 200, 400, 800 }) do
      assert.is_true(g[i] >= want, ("retry %d came after %d ms, before %d"):format(i, g[i], want))
      assert.is_true(g[i] < want + 1500, ("retry %d came after %d ms"):format(i, g[i]))
    end
  end)

  it("takes the jitter off the backoff, within its range", function()
    local k = h.uniq("jitter")
    local _, ids = add(srv, "test.jobs", { key = k, fail = 1 },
      { attempts = 2, backoff = { type = "fixed", delay = 1000, jitter = 0.5 } }, 10)
    for _, id in ipairs(ids) do srv:wait_job_state(id, "completed", 15000) end
    local by_job = {}
    for _, r in ipairs(srv:job_trace(k)) do
      by_job[r.id] = by_job[r.id] or {}
      by_job[r.id][r.attempt] = r.at
    end
    local g, below = {}, 0
    for _, id in ipairs(ids) do
      local gap = by_job[id][2] - by_job[id][1]
      g[#g + 1] = gap
      -- jitter 0.5 takes up to half of the 1000 ms away
      assert.is_true(gap >= 500, "a retry came before the backoff less its jitter: " .. gap)
      assert.is_true(gap < 1000 + 1500, "a retry came long after its backoff: " .. gap)
      if gap < 900 then below = below + 1 end
    end
    report("fixed backoff 1000 ms jitter 0.5, gaps (ms)", g)
    -- without jitter every gap would be 1000 ms or more; with it, that all ten land within
    -- the top tenth (plus lateness) has odds below 1e-4
    assert.is_true(below > 0, "no retry was brought forward by the jitter")
  end)

  it("runs a delayed job not before its time, and promptly after", function()
    local k = h.uniq("delayed")
    local delays = { 300, 700, 1200, 2000 }
    local ids = {}
    for i, d in ipairs(delays) do
      ids[i] = add(srv, "test.jobs", { key = k, i = i }, { delay = d })
    end
    assert.equal("delayed", srv:job(ids[#ids]).state)
    -- no request while they wait: each would wake the worker and its consumer with it, and
    -- hide a consumer that looks for due jobs only on its idle period (5 s)
    h.sleep(delays[#delays] + 1000)
    local late = {}
    for i, id in ipairs(ids) do
      local job = srv:wait_job_state(id, "completed")
      local ran
      for _, r in ipairs(srv:job_trace(k)) do if r.id == id then ran = r.at end end
      local due = job.addedAt + delays[i]
      assert.is_true(ran >= due, ("job %d ran %d ms before it was due"):format(i, due - ran))
      late[i] = ran - due
      -- the issue asks for ~100 ms (here 1-2 ms: the due timer's kick runs the turn at once;
      -- a consumer that waited for its block's timeout was 80-90 ms late, one that looked only
      -- on its idle period would be seconds late)
      assert.is_true(late[i] < 100, ("job %d ran %d ms after it was due"):format(i, late[i]))
    end
    report("delayed jobs 300/700/1200/2000 ms, lateness (ms)", late)
  end)

  it("runs prioritized jobs by priority, before any job without one", function()
    local k, gate = h.uniq("prio"), h.uniq("gate")
    finally(function() release(srv, gate) end)
    -- the single slot of test.serial is taken while the others are added
    local first = add(srv, "test.serial", { key = k, i = "hold", hold = gate })
    srv:wait_trace(k, nil, 1)
    add(srv, "test.serial", { key = k, i = "plain-a" })
    add(srv, "test.serial", { key = k, i = "p3" }, { priority = 3 })
    add(srv, "test.serial", { key = k, i = "p1" }, { priority = 1 })
    add(srv, "test.serial", { key = k, i = "p2" }, { priority = 2 })
    add(srv, "test.serial", { key = k, i = "plain-b" })
    local c = counts(srv, "test.serial")
    assert.equal(3, c.prioritized)
    assert.equal(2, c.waiting)
    release(srv, gate)
    srv:wait_job_state(first, "completed")
    local order = {}
    for i, r in ipairs(srv:wait_trace(k, nil, 6)) do order[i] = r.i end
    assert.same({ "hold", "p1", "p2", "p3", "plain-a", "plain-b" }, order)
  end)

  it("fails an attempt past its timeout with TIMEOUT", function()
    local k = h.uniq("timeout")
    local id = add(srv, "test.jobs", { key = k, sleep = 5000 }, { timeout = 300 })
    local job = srv:wait_job_state(id, "failed")
    assert.equal("TIMEOUT", job.failedCode)
    assert.truthy(job.failedReason:find("300 ms", 1, true), job.failedReason)
    assert.equal(1, job.attempt)
    -- ended by its timeout, not by the end of its sleep
    assert.is_true(job.finishedAt - job.addedAt < 4000, job.finishedAt - job.addedAt)
    assert.equal(1, #srv:job_trace(k))
  end)

  it("holds a paused queue's jobs until it resumes", function()
    local k = h.uniq("paused")
    assert.equal(200, op(srv, "pause", "test.serial").status)
    finally(function() op(srv, "resume", "test.serial") end)
    local id = add(srv, "test.serial", { key = k })
    -- a consumer that ignored the pause would run it within milliseconds
    h.sleep(500)
    assert.equal(0, #srv:job_trace(k))
    assert.equal("waiting", srv:job(id).state)
    local c = counts(srv, "test.serial")
    assert.is_true(c.isPaused)
    assert.equal(1, c.paused)
    assert.equal(0, c.waiting)
    assert.equal(200, op(srv, "resume", "test.serial").status)
    srv:wait_job_state(id, "completed")
    assert.equal(1, #srv:job_trace(k))
    assert.is_false(counts(srv, "test.serial").isPaused)
  end)

  it("runs a failed job again on retry, then completes it", function()
    local k = h.uniq("retry")
    local id = add(srv, "test.jobs", { key = k, fail_runs = 1 })
    local failed = srv:wait_job_state(id, "failed")
    assert.equal("planned failure of run 1", failed.failedReason)
    h.assert_error_envelope(op(srv, "retry", "no-such-job"), 404, "NOT_FOUND")
    assert.equal(200, op(srv, "retry", id).status)
    local job = srv:wait_job_state(id, "completed")
    assert.equal(1, job.attempt)
    assert.same({ ok = true, attempt = 1 }, job.result)
    assert.equal(2, #srv:job_trace(k))
    -- only a failed job can be retried
    h.assert_error_envelope(op(srv, "retry", id), 409, "INVALID_STATE")
    assert.equal(2, #srv:job_trace(k))
  end)

  it("removes a waiting or finished job, refuses a running one", function()
    local k, gate = h.uniq("remove"), h.uniq("gate")
    finally(function() release(srv, gate) end)
    local running = add(srv, "test.serial", { key = k, i = "running", hold = gate })
    srv:wait_trace(k, nil, 1)
    local waiting = add(srv, "test.serial", { key = k, i = "waiting" })
    h.assert_error_envelope(op(srv, "remove", running), 409, "INVALID_STATE")
    assert.equal("active", srv:job(running).state)
    assert.equal(200, op(srv, "remove", waiting).status)
    assert.is_nil(srv:job(waiting))
    assert.equal(0, counts(srv, "test.serial").waiting)
    h.assert_error_envelope(op(srv, "remove", waiting), 404, "NOT_FOUND")
    local after = add(srv, "test.serial", { key = k, i = "after" })
    release(srv, gate)
    srv:wait_job_state(after, "completed")
    local order = {}
    for i, r in ipairs(srv:job_trace(k)) do order[i] = r.i end
    assert.same({ "running", "after" }, order)
    -- a finished job goes too
    assert.equal("completed", srv:job(running).state)
    assert.equal(200, op(srv, "remove", running).status)
    assert.is_nil(srv:job(running))
  end)

  it("counts a queue's jobs in each state", function()
    local q, k, gate = "test.counts", h.uniq("counts"), h.uniq("gate")
    -- (busted keeps one finally per test)
    finally(function()
      op(srv, "resume", q)
      release(srv, gate)
    end)
    local function expect(want)
      local c = counts(srv, q)
      for name, n in pairs(want) do
        assert.equal(n, c[name], ("%s: %s"):format(name, cjson.encode(c)))
      end
    end
    expect{ waiting = 0, active = 0, delayed = 0, prioritized = 0, completed = 0, failed = 0,
      paused = 0, isPaused = false }
    -- a different number of jobs in each state, so that no two counts can be mixed up
    for _, id in ipairs(select(2, add(srv, q, { key = k }, nil, 3))) do
      srv:wait_job_state(id, "completed")
    end
    for _, id in ipairs(select(2, add(srv, q, { key = k, fail = 1 }, nil, 2))) do
      srv:wait_job_state(id, "failed")
    end
    local active = add(srv, q, { key = k, hold = gate })
    srv:wait_trace(k, nil, 6)
    add(srv, q, { key = k }, nil, 4)
    for p = 1, 5 do add(srv, q, { key = k }, { priority = p }) end
    local _, delayed = add(srv, q, { key = k }, { delay = 600000 }, 6)
    expect{ waiting = 4, active = 1, delayed = 6, prioritized = 5, completed = 3, failed = 2,
      paused = 0, isPaused = false }
    assert.equal(200, op(srv, "pause", q).status)
    expect{ waiting = 0, active = 1, delayed = 6, prioritized = 5, completed = 3, failed = 2,
      paused = 4, isPaused = true }
    assert.equal(200, op(srv, "resume", q).status)
    for _, id in ipairs(delayed) do assert.equal(200, op(srv, "remove", id).status) end
    release(srv, gate)
    srv:wait_job_state(active, "completed")
    assert(h.eventually(function() return counts(srv, q).completed == 13 end, 10000, 20),
      "the waiting and prioritized jobs did not complete")
    expect{ waiting = 0, active = 0, delayed = 0, prioritized = 0, completed = 13, failed = 2,
      paused = 0, isPaused = false }
  end)

  it("keeps consuming after handlers that raise, return errors or time out", function()
    local k = h.uniq("bad")
    local kinds = {
      { data = { crash = true }, code = "ERROR", reason = "planned crash" },
      { data = { raise_table = true }, code = "TEST_RAISED", reason = "planned raise" },
      { data = { err_string = true }, code = "ERROR", reason = "planned error string" },
      { data = { fail = 1 }, code = "TEST_FAIL", reason = "planned failure 1" },
      { data = { bad_result = true }, code = "INVALID_RESULT", reason = "JSON" },
      { data = { sleep = 5000 }, opts = { timeout = 50 }, code = "TIMEOUT", reason = "50 ms" },
    }
    -- ten of each: far more failures than test.jobs has slots
    local all = {}
    for _, kind in ipairs(kinds) do
      kind.data.key = k
      local _, ids = add(srv, "test.jobs", kind.data, kind.opts, 10)
      for _, id in ipairs(ids) do all[#all + 1] = { id = id, kind = kind } end
    end
    local good = add(srv, "test.jobs", { key = h.uniq("good"), result = { fine = true } })
    assert.same({ fine = true }, srv:wait_job_state(good, "completed", 20000).result)
    for _, j in ipairs(all) do
      local job = srv:wait_job_state(j.id, "failed")
      assert.equal(j.kind.code, job.failedCode)
      assert.truthy(job.failedReason:find(j.kind.reason, 1, true), job.failedReason)
    end
    assert.is_nil(srv:exited())
  end)
end)
