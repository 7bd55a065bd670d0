-- queue.add's options through the real binary (issue #14): a jobId is one job however many
-- workers add it at once, and adding it again while the job lives or is retained is a no-op
-- answering the same id; bad options are refused with 400 INVALID_OPTIONS naming the option,
-- and nothing is added; removeOnComplete / removeOnFail keep only what they say.
-- Two workers, both adding and consuming. Scripts: spec/fixtures/scripts/queue.
local h = require "spec.helpers"
local cjson = require "cjson"

local SCRIPTS = "spec/fixtures/scripts/queue"

local function add_res(srv, queue, data, opts)
  return srv:post_json("/add", { queue = queue, data = data, opts = opts })
end

local function add(srv, queue, data, opts)
  local res = add_res(srv, queue, data, opts)
  assert.equal(200, res.status, res.body)
  return res.json.id
end

local function wait_gone(srv, id, timeout_ms)
  local last
  local ok = h.eventually(function()
    last = srv:job(id)
    return last == nil
  end, timeout_ms or 10000, 20)
  assert(ok, ("job %s is still there: %s"):format(id, cjson.encode(last or "gone")))
end

describe("queue.add options", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { WORKERS = "2" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("makes one job of a jobId added many times at once", function()
    local k = h.uniq("dedup")
    local job_id = "order-" .. k
    local list = {}
    for i = 1, 24 do
      local body = { queue = "test.jobs", data = { key = k, i = i, sleep = 100 },
        opts = { jobId = job_id } }
      list[i] = { method = "POST", path = "/add", body = cjson.encode(body),
        headers = { ["Content-Type"] = "application/json" } }
    end
    local answers = srv:requests_at_once(list)
    for i, res in ipairs(answers) do
      assert.equal(200, res.status, "add " .. i .. ": " .. tostring(res.body))
      assert.equal(job_id, res.json.id)
    end
    local job = srv:wait_job_state(job_id, "completed")
    -- some add won, and it is the one job that ran
    local list_runs = srv:job_trace(k)
    assert.equal(1, #list_runs)
    assert.equal(job.data.i, list_runs[1].i)
    -- retained: adding it again answers its id and changes nothing
    assert.equal(job_id, add(srv, "test.jobs", { key = k, i = 99 }, { jobId = job_id }))
    h.sleep(300)
    assert.equal(1, #srv:job_trace(k))
    local again = srv:job(job_id)
    assert.equal("completed", again.state)
    assert.equal(job.data.i, again.data.i)
    assert.equal(job.finishedAt, again.finishedAt)
  end)

  it("refuses bad options with 400 INVALID_OPTIONS naming the option, adding nothing", function()
    local cases = {
      { { jobId = "42" }, "jobId" },
      { { jobId = 42 }, "jobId" },
      { { jobId = "" }, "jobId" },
      { { delay = -5 }, "delay" },
      { { delay = 1.5 }, "delay" },
      { { priority = 0 }, "priority" },
      { { priority = "high" }, "priority" },
      { { attempts = 0 }, "attempts" },
      { { timeout = 0 }, "timeout" },
      { { backoff = "soon" }, "backoff" },
      { { backoff = { type = "linear", delay = 100 } }, "backoff.type" },
      { { backoff = { type = "fixed", delay = 100, jitter = 2 } }, "backoff.jitter" },
      { { removeOnComplete = "yes" }, "removeOnComplete" },
      { { removeOnFail = { age = -1 } }, "removeOnFail.age" },
      { { nope = 1 }, "nope" },
    }
    local k = h.uniq("refused")
    for _, c in ipairs(cases) do
      local res = add_res(srv, "test.jobs", { key = k }, c[1])
      local j = h.assert_error_envelope(res, 400, "INVALID_OPTIONS")
      assert.truthy(j.error.message:find(c[2], 1, true),
        ("%s: the message does not name %s: %s"):format(cjson.encode(c[1]), c[2], j.error.message))
    end
    -- a jobId holding digits is fine when it is not only digits
    local id = add(srv, "test.jobs", { key = k }, { jobId = "a-42-" .. k })
    assert.equal("a-42-" .. k, id)
    srv:wait_job_state(id, "completed")
    assert.equal(1, #srv:job_trace(k))
    for _, n in ipairs({ "42", "0" }) do
      local job = srv:job(n)
      assert.is_true(job == nil or job.data.key ~= k, "a refused jobId was added: " .. n)
    end
  end)

  it("removes a job at once with removeOnComplete = true, or a failed one with removeOnFail",
    function()
      local k = h.uniq("gone")
      local done = add(srv, "test.keep", { key = k, i = 1 }, { removeOnComplete = true })
      local failed = add(srv, "test.keep", { key = k, i = 2, fail = 1 }, { removeOnFail = true })
      local kept = add(srv, "test.keep", { key = k, i = 3, fail = 1 })
      srv:wait_job_state(kept, "failed")
      local list = h.eventually(function()
        local l = srv:job_trace(k)
        return #l == 3 and l
      end, 10000, 20)
      assert.truthy(list, "the three jobs did not all run")
      wait_gone(srv, done)
      wait_gone(srv, failed)
      assert.equal("failed", srv:job(kept).state)
    end)

  it("keeps only the newest completed jobs with removeOnComplete = { count = 2 }", function()
    local k = h.uniq("count")
    local ids = {}
    for i = 1, 4 do
      ids[i] = add(srv, "test.keep", { key = k, i = i }, { removeOnComplete = { count = 2 } })
      -- one at a time, so "newest" is the order they were added in
      assert(h.eventually(function() return #srv:job_trace(k) == i end, 10000, 20),
        "job " .. i .. " did not run")
      srv:wait_job_state(ids[i], "completed")
      -- the completion that made it the third newest removed it, in the same step
      if i >= 3 then assert.is_nil(srv:job(ids[i - 2]), "job " .. (i - 2) .. " was kept") end
    end
    assert.is_nil(srv:job(ids[1]))
    assert.is_nil(srv:job(ids[2]))
    assert.equal("completed", srv:job(ids[3]).state)
    assert.equal("completed", srv:job(ids[4]).state)
  end)
end)
