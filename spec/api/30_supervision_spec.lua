-- The master's supervision of its workers (README "Processes" and "Handlers"): a worker stuck
-- in an endless loop is killed once its loop has not turned for REQUEST_TIMEOUT_MS + 10 s and
-- replaced; a worker that keeps crashing right after it starts is restarted each time, later
-- and later (host/proc.c reap: 100 ms, doubling up to 5 s, for a worker that lived under 1 s).
-- Both are read from the server's own log, whose lines carry the time and the pid.
-- Scripts: spec/fixtures/scripts/stuck (GET /spin never returns) and basic.
local h = require "spec.helpers"
local psignal = require "posix.signal"

local REQUEST_TIMEOUT_MS = 500
local STALL_GRACE_MS = 10000 -- README: "after REQUEST_TIMEOUT_MS + 10 s"

-- A log line's time in ms ("2026-01-02T03:04:05.678Z"); only differences matter.
local function time_ms(line)
  local y, mo, d, hh, mi, ss, ms = line.time:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.(%d+)Z$")
  assert(y, "log time not understood: " .. tostring(line.time))
  return os.time{ year = tonumber(y), month = tonumber(mo), day = tonumber(d),
    hour = tonumber(hh), min = tonumber(mi), sec = tonumber(ss) } * 1000 + tonumber(ms)
end

-- The first log line whose msg matches pattern, with its captures.
local function find_line(srv, pattern)
  for _, line in ipairs(srv:log_lines()) do
    local caps = { tostring(line.msg):match(pattern) }
    if caps[1] then return line, caps end
  end
end

-- Is this the line a worker logs once it serves?
local function serving(line)
  return line.proc == "worker" and tostring(line.msg):match("^worker 0 serving generation") ~= nil
end

-- The serving line of a worker whose pid is not in done, as soon as one shows.
local function next_serving(srv, done)
  local found = h.eventually(function()
    for _, line in ipairs(srv:log_lines()) do
      if serving(line) and not done[line.pid] then return line end
    end
  end, 15000, 5)
  assert(found, "no worker came back; log:\n" .. srv:log_tail())
  return found
end

-- The serving line of the worker with this pid.
local function serving_line(srv, pid)
  for _, line in ipairs(srv:log_lines()) do
    if serving(line) and line.pid == pid then return line end
  end
end

describe("worker supervision", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("replaces a worker stuck in an endless loop after REQUEST_TIMEOUT_MS + 10 s", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/stuck", expect_crashes = true,
      env = { WORKERS = "1", REQUEST_TIMEOUT_MS = tostring(REQUEST_TIMEOUT_MS) } }
    local stuck = srv:workers()[1]
    assert.truthy(stuck, "no worker")
    local conn = srv:connect()
    conn:send(h.format_request{ path = "/spin" })
    -- no 504 can come from a loop that never yields: the connection ends with the worker
    assert.is_true(conn:closed(REQUEST_TIMEOUT_MS + STALL_GRACE_MS + 20000),
      "the stuck worker was not stopped; log:\n" .. srv:log_tail())
    assert.equal("", conn.src.buf)
    conn:close()

    local line, caps = find_line(srv,
      "^worker 0 %(pid (%d+)%) has not turned its loop for (%d+) ms: killing it$")
    assert.truthy(line, "the master did not log the kill:\n" .. srv:log_tail())
    assert.equal("master", line.proc)
    assert.equal(stuck, tonumber(caps[1]))
    assert.is_true(tonumber(caps[2]) >= REQUEST_TIMEOUT_MS + STALL_GRACE_MS,
      "killed after only " .. caps[2] .. " ms")

    local replaced = h.eventually(function()
      local w = srv:workers()
      return #w == 1 and w[1] ~= stuck and w[1]
    end, 10000)
    assert.truthy(replaced, "the stuck worker was not replaced")
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.is_nil(srv:exited())
  end)

  it("restarts a worker that keeps crashing, later and later", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", expect_crashes = true,
      env = { WORKERS = "1" } }
    -- Kill each worker as soon as it serves: every one dies young, so each restart waits
    -- twice as long as the one before.
    local crashes, killed = 5, {}
    for i = 1, crashes do
      local pid = next_serving(srv, killed).pid
      assert.equal(0, psignal.kill(pid, psignal.SIGKILL))
      killed[pid] = i
      killed[i] = pid
    end
    local last = next_serving(srv, killed)
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.is_nil(srv:exited())

    -- From each crash, as the master logged it, to the next worker serving.
    local gaps = {}
    for i = 1, crashes do
      local died = find_line(srv,
        "^worker 0 %(pid " .. killed[i] .. "%) killed by signal 9: restarting$")
      assert.truthy(died, "no restart logged for pid " .. killed[i] .. ":\n" .. srv:log_tail())
      local served = serving_line(srv, killed[i + 1] or last.pid)
      gaps[i] = time_ms(served) - time_ms(died)
    end
    -- The first worker may have lived past 1 s (no wait then); every later one died young.
    local want = { 0, 100, 200, 400, 800 }
    for i = 1, crashes do
      assert.is_true(gaps[i] >= want[i], ("restart %d came %d ms after its crash, expected at "
        .. "least %d (all gaps: %s)"):format(i, gaps[i], want[i], table.concat(gaps, ", ")))
    end
  end)
end)
