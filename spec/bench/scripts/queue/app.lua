-- The job-queue bench (spec/bench/queue.sh), the same work as spec/bench/bullmq/bench.js.
--   the handler            a no-op on queue bench.noop, concurrency 50 (the BullMQ Worker's)
--   POST /enqueue?n=N&clients=C[&drain=1]
--                          adds N jobs from C threads of the request, each awaiting its add
--                          before the next (bench.js' addAll: C loops in one process); with
--                          drain=1 then waits until nothing waits or runs (bench.js' drained)
--   POST /resume[?drain=1], /pause
--                          the queue, through the API; drain=1 as above
--   GET /pending           "P F": P jobs wait or run, F failed
--   POST /latency?n=N&gap=MS
--                          N lone jobs, MS ms apart, each carrying the wall time of its
--                          queue.add: the handler records how long it took to start
-- The bench's work is timed here, as bench.js times BullMQ's in node, and answered as
-- "key=value ..." (seconds, not_added, pending, failed, jobs, p50_us ...): a driver polling from
-- outside would start a process per look on Redis' CPU.
-- Every job goes at once when it completes (removeOnComplete = true), as on BullMQ's side.
local app = require "speezy.app"
local core = require "speezy.core"
local queue = require "speezy.queue"

local QUEUE = "bench.noop"
local OPTS = { removeOnComplete = true }

-- µs from queue.add to the handler, of the jobs /latency added. The worker that runs the
-- jobs is the one serving /latency (WORKERS=1), so this generation's table sees them all.
local latencies = {}

queue.process(QUEUE, { concurrency = 50 }, function(job)
  local t = job.data.t
  if t then latencies[#latencies + 1] = (core.now() - tonumber(t)) * 1e6 end
  return true
end)

local function count(v, default, max)
  local n = tonumber(v) or default
  if n < 1 or n > max or n % 1 ~= 0 then return nil end
  return n
end

local TEXT = { ["Content-Type"] = "text/plain" }

-- Jobs waiting or running, and failed.
local function pending()
  local c, err = queue.counts(QUEUE)
  if not c then return nil, err end
  return c.waiting + c.active + c.prioritized + c.delayed + c.paused, c.failed
end

-- Until nothing waits or runs, looking every 20 ms (bench.js' drained); "pending=P failed=F"
-- ("?" when Redis did not answer).
local function drain()
  for _ = 1, math.huge do
    local p, f = pending()
    if not p then return "pending=? failed=?" end
    if p == 0 then return ("pending=0 failed=%d"):format(f) end
    core.sleep(20)
  end
end

local function answer(t0, req, line)
  if req.query.drain == "1" then line = line .. " " .. drain() end
  return 200, ("seconds=%.6f %s"):format(core.monotonic_ms() / 1000 - t0, line), TEXT
end

app.post("/enqueue", function(req)
  local t0 = core.monotonic_ms() / 1000
  local n = count(req.query.n, 100, 1000000)
  local clients = count(req.query.clients, 1, 1024)
  if not n or not clients then return app.fail(400, "VALIDATION", "n or clients out of range") end
  local taken, added = 0, 0
  local function adder()
    while taken < n do
      taken = taken + 1
      if queue.add(QUEUE, { i = taken }, OPTS) then added = added + 1 end
    end
  end
  local threads = {}
  for k = 1, clients do threads[k] = core.spawn(adder) end
  for k = 1, clients do core.wait(threads[k]) end
  return answer(t0, req, ("not_added=%d"):format(n - added))
end)

app.get("/pending", function()
  local p, f = pending()
  if not p then return app.fail(503, f.code, f.message) end
  return 200, ("%d %d"):format(p, f), TEXT
end)

app.post("/pause", function()
  assert(queue.pause(QUEUE))
  return 200, { paused = true }
end)

app.post("/resume", function(req)
  local t0 = core.monotonic_ms() / 1000
  assert(queue.resume(QUEUE))
  return answer(t0, req, "resumed=1")
end)

local function percentile(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

app.post("/latency", function(req)
  local n = count(req.query.n, 1000, 100000)
  local gap = count(req.query.gap, 5, 1000)
  if not n or not gap then return app.fail(400, "VALIDATION", "n or gap out of range") end
  latencies = {}
  for _ = 1, n do
    -- a string: a JSON number would round the µs away
    local id, err = queue.add(QUEUE, { t = ("%.6f"):format(core.now()) }, OPTS)
    if not id then return app.fail(503, err.code, err.message) end
    core.sleep(gap)
  end
  for _ = 1, 500 do -- the last job may still be on its way
    if #latencies >= n then break end
    core.sleep(10)
  end
  local us = latencies
  table.sort(us)
  local sum = 0
  for _, v in ipairs(us) do sum = sum + v end
  return 200, ("jobs=%d p50_us=%.0f p99_us=%.0f max_us=%.0f mean_us=%.0f"):format(#us,
    percentile(us, 0.5) or 0, percentile(us, 0.99) or 0, us[#us] or 0,
    #us > 0 and sum / #us or 0), TEXT
end)

return app
