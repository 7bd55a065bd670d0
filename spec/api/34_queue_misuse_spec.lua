-- speezy.queue's refusals through the real binary (issue #14): misuse raises with the
-- script's file:line, so `speezy check` refuses a generation that declares a queue with a bad
-- option or adds a job with a name that is not a string while loading, and a handler that
-- declares a queue at request time gets a 500 whose log line names its line; while Redis is
-- down or hangs, queue.add answers nil, err with QUEUE_UNAVAILABLE (503 here), and the
-- consumers take jobs again once it is back.
-- Scripts: spec/fixtures/scripts/queue (the /misuse routes), queue_misuse_process
-- (jobs/mail.lua), queue_misuse_add (app.lua).
local h = require "spec.helpers"
local cjson = require "cjson"

local SCRIPTS = "spec/fixtures/scripts/queue"

-- "file:N" for the line of fixture file `path` that holds `text`.
local function where(path, text)
  local n = 0
  for line in io.lines(h.root .. "/" .. path) do
    n = n + 1
    if line:find(text, 1, true) then return (path:match("[^/]+/[^/]+$")) .. ":" .. n end
  end
  error(text .. " is not in " .. path)
end

local function check(dir)
  return h.run({ h.bin, "check" }, {
    SPEEZY_ENV = "test", SCRIPTS_DIR = h.root .. "/" .. dir,
    DATABASE_URL = os.getenv("SPEEZY_TEST_DATABASE_URL") or false,
    REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or false,
  }, { cwd = h.tmpdir("check") })
end

local function says(out, ...)
  for _, text in ipairs({ ... }) do
    assert.truthy(out:find(text, 1, true), ("does not say %q:\n%s"):format(text, out))
  end
end

describe("queue misuse", function()
  it("makes `speezy check` refuse a queue.process with a bad option, naming file:line",
    function()
      local dir = "spec/fixtures/scripts/queue_misuse_process"
      local code, out = check(dir)
      assert.not_equal(0, code)
      says(out, where(dir .. "/jobs/mail.lua", "{ concurency = 4 }") .. ": queue.process:",
        "unknown option concurency")
    end)

  it("makes `speezy check` refuse a queue.add whose name is not a string, naming file:line",
    function()
      local dir = "spec/fixtures/scripts/queue_misuse_add"
      local code, out = check(dir)
      assert.not_equal(0, code)
      says(out, where(dir .. "/app.lua", "queue.add(") .. ": queue.add:",
        "queue name must be a string, got table")
    end)

  describe("at request time", function()
    local srv

    setup(function()
      srv = h.start{ scripts = SCRIPTS }
    end)

    teardown(function()
      if srv then srv:stop() end
    end)

    local function raised(path, line, text)
      local res = srv:request{ path = path }
      local j = h.assert_error_envelope(res, 500, "INTERNAL")
      assert.falsy(res.body:find("queue.", 1, true), "the client sees the cause: " .. res.body)
      local found
      assert(h.eventually(function()
        for _, l in ipairs(srv:log_lines()) do
          if l.reqId == j.requestId and l.level == "error" then found = l end
        end
        return found
      end, 5000), "no error line for request " .. j.requestId .. ":\n" .. srv:log_tail())
      says(found.msg, line, text)
    end

    it("answers 500 to queue.process in a handler, its log line naming file:line", function()
      raised("/misuse/process", where(SCRIPTS .. "/app.lua", 'queue.process("test.late"')
        .. ": queue.process:", "declared only while scripts load")
    end)

    it("answers 500 to queue.add with a name that is not a string, naming file:line",
      function()
        raised("/misuse/add", where(SCRIPTS .. "/app.lua", "queue.add(42") .. ": queue.add:",
          "queue name must be a string, got number")
      end)
  end)
end)

describe("queue while Redis is away", function()
  local srv, servers

  setup(function()
    servers = h.servers()
    -- a long command timeout, so a fast answer while Redis is down can't be the timeout
    srv = h.start{ scripts = SCRIPTS, env = { REDIS_TIMEOUT_MS = "10000" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local seq = 0
  local function add(timeout_ms)
    seq = seq + 1
    local k = ("away-%d-%d"):format(os.time(), seq)
    return srv:request{ method = "POST", path = "/add", timeout_ms = timeout_ms or 15000,
      headers = { ["Content-Type"] = "application/json" },
      body = cjson.encode({ queue = "test.jobs", data = { key = k } }) }, k
  end

  -- A job added now runs: the route answers and the consumer takes it.
  local function consumes()
    local res
    assert(h.eventually(function()
      res = add(5000)
      return res.status == 200
    end, 20000, 200), "queue.add did not recover: " .. tostring(res and res.body))
    local id = res.json.id
    assert(h.eventually(function()
      local r = srv:request{ path = "/job/" .. id }
      return r.status == 200 and r.json.job.state == "completed"
    end, 20000, 50), "the consumer did not take job " .. id .. " after Redis came back:\n"
      .. srv:log_tail())
  end

  it("answers QUEUE_UNAVAILABLE while Redis is down, and consumes once it is back", function()
    consumes()
    servers.stop_redis()
    finally(function() servers.start_redis() end)
    for _ = 1, 3 do
      local t0 = h.now_ms()
      local res = add()
      h.assert_error_envelope(res, 503, "QUEUE_UNAVAILABLE")
      assert.is_true(h.now_ms() - t0 < 3000, ("the 503 took %d ms"):format(h.now_ms() - t0))
    end
    h.assert_error_envelope(srv:request{ path = "/counts/test.jobs" }, 503, "QUEUE_UNAVAILABLE")
    -- the consumer has tried and failed meanwhile; it says so once, not once per try
    h.sleep(2500)
    servers.start_redis()
    consumes()
    local n = select(2, srv:logs():gsub("queue consumer: [^\"]* failed", ""))
    assert.is_true(n >= 1 and n <= 4, ("%d lines about the consumer's failures"):format(n))
    assert.is_nil(srv:exited())
  end)

  it("answers QUEUE_UNAVAILABLE while Redis hangs, and consumes once it answers", function()
    srv:stop()
    srv = h.start{ scripts = SCRIPTS, env = { REDIS_TIMEOUT_MS = "1000" } }
    consumes()
    servers.freeze_redis()
    finally(function() servers.thaw_redis() end)
    local res = add()
    local j = h.assert_error_envelope(res, 503, "QUEUE_UNAVAILABLE")
    assert.truthy(j.error.message, cjson.encode(j))
    h.sleep(1500)
    servers.thaw_redis()
    consumes()
    assert.is_nil(srv:exited())
  end)
end)
