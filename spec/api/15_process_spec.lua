-- Processes, config and logs (issue #2, "Processes" and "Config and logs"): worker restart
-- after a crash, SIGTERM drain, production refusing weak secrets, the JSON access log.
local h = require "spec.helpers"
local psignal = require "posix.signal"

local GOOD_SECRET = string.rep("s", 40)

local function contains(list, x)
  for _, v in ipairs(list) do
    if v == x then return true end
  end
  return false
end

-- Production needs both URLs; outside spec/run any syntactically valid ones will do.
local function production_env(extra)
  local env = {
    SPEEZY_ENV = "production",
    JWT_SECRET = GOOD_SECRET,
    OTP_SECRET = GOOD_SECRET .. "o",
    ADMIN_TOKEN = GOOD_SECRET .. "a",
    DATABASE_URL = os.getenv("SPEEZY_TEST_DATABASE_URL") or "postgresql://127.0.0.1:1/none",
    REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or "redis://127.0.0.1:1",
  }
  for k, v in pairs(extra) do env[k] = v end
  return env
end

describe("processes", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("restarts a worker killed with SIGKILL and keeps serving", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { WORKERS = "2" } }
    local before = h.eventually(function()
      local w = srv:workers()
      return #w == 2 and w
    end, 5000)
    assert.truthy(before, "expected 2 workers")
    psignal.kill(before[1], psignal.SIGKILL)
    local after = h.eventually(function()
      local w = srv:workers()
      return #w == 2 and not contains(w, before[1]) and w
    end, 5000)
    assert.truthy(after, "the killed worker was not replaced")
    for _ = 1, 20 do assert.equal(200, srv:request{ path = "/hello" }.status) end
    assert.is_nil(srv:exited())
  end)

  it("drains on SIGTERM: an in-flight request completes, then exit 0", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic" }
    local conn = srv:connect()
    conn:send(h.format_request{ path = "/sleep/800" })
    h.sleep(200)
    srv:signal("TERM")
    h.sleep(100)
    -- no new work is taken on while draining
    local ok, late = pcall(srv.request, srv, { path = "/hello", timeout_ms = 3000 })
    local res = assert(conn:read_response{ timeout_ms = 3000 })
    conn:close()
    assert.equal(200, res.status)
    assert.equal(800, res.json.slept)
    assert.equal("close", (res.headers.connection or ""):lower())
    assert.equal(0, srv:wait_exit(5000))
    assert.is_false(ok and late.status == 200, "a new request was served while draining")
  end)

  it("stops waiting for in-flight requests after DRAIN_TIMEOUT_MS", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { DRAIN_TIMEOUT_MS = "500",
      REQUEST_TIMEOUT_MS = "60000" } }
    local conn = srv:connect()
    conn:send(h.format_request{ path = "/sleep/20000" })
    h.sleep(200)
    local t0 = h.now_ms()
    srv:signal("TERM")
    local code = srv:wait_exit(5000)
    conn:close()
    assert.truthy(code, "still running 5 s after SIGTERM")
    assert.is_true(h.now_ms() - t0 < 3000)
  end)
end)

describe("configuration", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  local function refuses(env, name, hidden)
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = production_env(env),
      wait = false }
    local code = srv:wait_exit(5000)
    assert.truthy(code, "production started without a valid " .. name)
    assert.not_equal(0, code)
    local logs = srv:logs()
    assert.truthy(logs:find(name, 1, true), "the message does not name " .. name .. ": " .. logs)
    if hidden then
      assert.falsy(logs:find(hidden, 1, true), "the secret's value was printed")
    end
  end

  it("refuses production without JWT_SECRET, naming it", function()
    refuses({ JWT_SECRET = false }, "JWT_SECRET")
  end)

  it("refuses production with a JWT_SECRET shorter than 32 bytes", function()
    refuses({ JWT_SECRET = "short-secret-value-1234" }, "JWT_SECRET", "short-secret-value-1234")
  end)

  it("refuses production without OTP_SECRET, naming it", function()
    refuses({ OTP_SECRET = false }, "OTP_SECRET")
  end)

  it("starts in production with long secrets", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = production_env({}) }
    assert.equal(200, srv:request{ path = "/hello" }.status)
  end)
end)

describe("access log", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic" }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local function access_line(rid)
    return h.eventually(function()
      for _, line in ipairs(srv:log_lines()) do
        if line.reqId == rid and line.msg == "access" then return line end
      end
    end, 3000)
  end

  it("writes one JSON line per request with time, id, method, route, status, µs, bytes", function()
    local res = srv:request{ path = "/stores/7", headers = { ["X-Request-Id"] = "acc-1" } }
    assert.equal("acc-1", res.headers["x-request-id"])
    local line = access_line("acc-1")
    assert.truthy(line, "no access line for acc-1:\n" .. srv:log_tail())
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d", line.time)
    assert.equal("GET", line.method)
    assert.equal("/stores/:id", line.route)
    assert.equal(200, line.status)
    assert.is_number(line.durationUs)
    assert.is_true(line.durationUs >= 0)
    assert.is_number(line.bytesOut)
    assert.is_true(line.bytesOut >= #res.body)
  end)

  it("logs errors and unknown routes too, exactly once each", function()
    srv:request{ path = "/nope", headers = { ["X-Request-Id"] = "acc-404" } }
    srv:request{ path = "/boom", headers = { ["X-Request-Id"] = "acc-500" } }
    local l404, l500 = access_line("acc-404"), access_line("acc-500")
    assert.truthy(l404 and l500, srv:log_tail())
    assert.equal(404, l404.status)
    assert.equal(500, l500.status)
    assert.equal("/boom", l500.route)
    local n = 0
    for _, line in ipairs(srv:log_lines()) do
      if line.msg == "access" and line.reqId == "acc-404" then n = n + 1 end
    end
    assert.equal(1, n)
  end)
end)
