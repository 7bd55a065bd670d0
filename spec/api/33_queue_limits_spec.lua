-- A queue's limits through the real binary (issue #14): a consumer never runs more of a
-- queue's jobs at once than its concurrency (measured by the handlers themselves: the most in
-- flight, kept in Redis), and a rate-limited queue never starts more jobs per window than its
-- limit across every worker. Scripts: spec/fixtures/scripts/queue (test.jobs: concurrency 4;
-- test.limited: concurrency 8, at most 5 per 1000 ms).
local h = require "spec.helpers"
local cjson = require "cjson"

local SCRIPTS = "spec/fixtures/scripts/queue"

local function add_many(srv, queue, data, n)
  local res = srv:post_json("/add", { queue = queue, data = data, n = n })
  assert.equal(200, res.status, res.body)
  return res.json.ids
end

local function wait_completed(srv, ids)
  for _, id in ipairs(ids) do
    assert(h.eventually(function()
      local res = srv:request{ path = "/job/" .. id }
      return res.status == 200 and res.json.job.state == "completed"
    end, 20000, 20), "job " .. id .. " did not complete")
  end
end

local function max_active(srv, k)
  local res = srv:request{ path = "/maxactive/" .. k }
  assert.equal(200, res.status, res.body)
  return res.json.max
end

local function report(what, values)
  io.stderr:write(("measured: %s: %s\n"):format(what, table.concat(values, ", ")))
end

-- 40 jobs of 50 ms on test.jobs; returns the most that ran at once.
local function flood(srv)
  local k = h.uniq("conc")
  local ids = add_many(srv, "test.jobs", { key = k, sleep = 50, count_active = true }, 40)
  wait_completed(srv, ids)
  assert.equal(40, #srv:job_trace(k))
  return max_active(srv, k)
end

describe("queue concurrency, one worker", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { WORKERS = "1" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("runs exactly as many jobs at once as the queue's concurrency", function()
    local max = flood(srv)
    report("most test.jobs in flight, one worker (concurrency 4)", { max })
    assert.equal(4, max)
  end)
end)

describe("queue limits, two workers", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { WORKERS = "2" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("runs at most the concurrency per worker at once", function()
    local max = flood(srv)
    report("most test.jobs in flight, two workers (concurrency 4 each)", { max })
    assert.is_true(max >= 4 and max <= 8, "most in flight: " .. max)
  end)

  it("starts at most the rate limit's jobs per window, across workers", function()
    local k = h.uniq("rate")
    local ids = add_many(srv, "test.limited", { key = k }, 15)
    wait_completed(srv, ids)
    local starts = {}
    for i, r in ipairs(srv:wait_trace(k, nil, 15)) do starts[i] = r.at end
    table.sort(starts)
    -- the limiter's window opens at the first start of each batch; a sliding window a little
    -- shorter than the limit's keeps the handlers' own start-up time out of the count
    local most = 0
    for i = 1, #starts do
      local n = 0
      for j = i, #starts do
        if starts[j] - starts[i] < 900 then n = n + 1 end
      end
      most = math.max(most, n)
    end
    local span = starts[#starts] - starts[1]
    report("rate limit 5/1000 ms, 15 jobs: most starts in 900 ms, first to last start (ms)",
      { most, span })
    assert.is_true(most <= 5, ("%d starts within 900 ms: %s"):format(most, cjson.encode(starts)))
    -- 15 jobs at 5 per window take three windows: the last starts two windows after the first
    assert.is_true(span >= 1800, ("15 jobs started within %d ms"):format(span))
  end)
end)
