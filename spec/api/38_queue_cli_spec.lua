-- `speezy jobs` (issue #14): a jobs-only instance runs the queues with no HTTP at all, and the
-- operator commands status, retry-failed and clean act on the queues in Redis. An HTTP-only
-- server (QUEUE_CONSUME=0) adds the jobs. Scripts: spec/fixtures/scripts/queue.
local h = require "spec.helpers"
local socket = require "posix.sys.socket"
local unistd = require "posix.unistd"

local SCRIPTS = "spec/fixtures/scripts/queue"

local function jobs_cli(...)
  local env = { SPEEZY_ENV = "test", REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or false,
    SCRIPTS_DIR = SCRIPTS }
  return h.run({ h.bin, "jobs", ... }, env)
end

-- The status line of one queue as numbers by column name.
local function status_of(queue)
  local code, out = jobs_cli("status")
  assert.equal(0, code, out)
  local header = out:match("[^\n]*waiting[^\n]*")
  assert(header, "no header in: " .. out)
  local names = {}
  for w in header:gmatch("%S+") do names[#names + 1] = w end
  for line in out:gmatch("[^\n]+") do
    local fields = {}
    for w in line:gmatch("%S+") do fields[#fields + 1] = w end
    if fields[1] == queue then
      local t = {}
      for i = 2, #names do t[names[i]] = tonumber(fields[i]) end
      return t
    end
  end
  return nil, out
end

local function refuses_connections(port)
  local fd = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
  local ok = socket.connect(fd, { family = socket.AF_INET, addr = "127.0.0.1", port = port })
  unistd.close(fd)
  return not ok
end

describe("speezy jobs", function()
  local web, worker
  local queue = "test.cli" -- no other spec uses it

  setup(function()
    web = h.start { scripts = SCRIPTS, env = { QUEUE_CONSUME = "0" } }
  end)

  teardown(function()
    if worker then worker:stop() end
    if web then web:stop() end
  end)

  it("runs the queues with no HTTP, and status, retry-failed and clean act on them", function()
    local tag = ("cli-%d"):format(os.time())
    -- Redis keeps what an earlier run of this file left (AOF): count from the status before
    local before = status_of(queue) or { completed = 0, failed = 0 }
    local ids = {}
    for i = 1, 3 do
      -- fail_runs counts the runs of a key: job 3's own key makes its first run fail
      local res = web:post_json("/add", { queue = queue, data = { key = tag .. "-" .. i, i = i,
        fail_runs = i == 3 and 1 or nil } })
      assert.equal(200, res.status, res.body)
      ids[i] = res.json.id
    end
    h.sleep(300)
    -- the HTTP-only server runs nothing
    assert.equal("waiting", web:job(ids[1]).state)

    local port = h.free_port()
    worker = h.start { scripts = SCRIPTS, command = "jobs", wait = false, port = port }
    assert(worker:wait_log("consuming jobs", 10000), worker:log_tail(20))
    assert(h.eventually(function()
      return web:job(ids[1]).state == "completed" and web:job(ids[2]).state == "completed"
        and web:job(ids[3]).state == "failed"
    end, 15000), "the jobs instance did not run the jobs: " .. worker:log_tail(20))
    assert.is_true(refuses_connections(port), "speezy jobs listens on its PORT")
    assert.is_nil(worker:logs():find("listening", 1, true))

    local st = assert(status_of(queue))
    assert.equal(before.completed + 2, st.completed)
    assert.equal(before.failed + 1, st.failed)
    assert.equal(0, st.waiting)

    local code, out = jobs_cli("retry-failed", queue)
    assert.equal(0, code, out)
    assert.truthy(out:find(("%d failed job(s) of %s back in line"):format(before.failed + 1, queue),
      1, true), out)
    -- fail_runs = 1: the second run of job 3 completes
    assert(h.eventually(function() return web:job(ids[3]).state == "completed" end, 15000),
      worker:log_tail(20))
    st = assert(status_of(queue))
    assert.equal(0, st.failed)

    code, out = jobs_cli("clean", queue, "--state", "completed", "--older-than", "0s")
    assert.equal(0, code, out)
    assert.truthy(out:find("deleted %d+ completed job%(s%) of " .. queue:gsub("%.", "%%.")), out)
    assert.is_nil(web:job(ids[1]))
    st = assert(status_of(queue))
    assert.equal(0, st.completed)

    -- SIGTERM: the jobs instance drains and exits 0
    assert.equal(0, worker:stop())
    worker = nil
  end)

  it("refuses bad usage with exit code 2", function()
    local code, out = jobs_cli("clean", queue, "--state", "sleeping", "--older-than", "1h")
    assert.equal(2, code, out)
    assert.truthy(out:find("usage: speezy jobs clean", 1, true), out)
    code, out = jobs_cli("clean", queue, "--state", "failed", "--older-than", "soon")
    assert.equal(2, code, out)
    code, out = jobs_cli("frobnicate")
    assert.equal(2, code, out)
  end)
end)
