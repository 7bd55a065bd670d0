-- queue.schedule (issue #14): a repeatable job fires once per period across every worker,
-- never once per worker. Three workers each run the schedule's timer; the fixture's handler
-- traces each fired job with its addedAt, the moment a worker fired it, so the fires are
-- counted per period from outside.
local h = require "spec.helpers"
local cjson = require "cjson"

local FIXTURE = "spec/fixtures/scripts/queue_durability"
local EVERY = 1000

describe("queue.schedule", function()
  local srv
  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("with { every = 1000 } and three workers fires exactly once per period", function()
    srv = h.start { scripts = FIXTURE,
      env = { WORKERS = "3", TEST_SCHEDULE_EVERY = tostring(EVERY) } }
    assert.equal(3, #srv:healthz().workers)
    local runs = srv:wait_trace("tick", "start", 6, 20000)

    local per_period, ids = {}, {}
    local first, last
    for _, r in ipairs(runs) do
      assert(not ids[r.id], "job " .. r.id .. " ran twice")
      ids[r.id] = true
      assert.equal(1, r.attempt)
      local period = math.floor(r.added / EVERY)
      per_period[period] = (per_period[period] or 0) + 1
      first = math.min(first or period, period)
      last = math.max(last or period, period)
    end
    assert(last - first + 1 >= 6, ("%d runs over %d periods"):format(#runs, last - first + 1))
    for p = first, last do
      assert(per_period[p] == 1, ("period starting at %d ms fired %d times (runs: %s)"):format(
        p * EVERY, per_period[p] or 0, cjson.encode(runs)))
    end
  end)
end)
