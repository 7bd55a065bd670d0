-- Processes, config and logs (issue #2, "Processes" and "Config and logs"): worker restart
-- after a crash, SIGTERM drain, production refusing weak secrets and missing URLs (exit 78,
-- naming the variable), the server's ./.env under the environment, the JSON access log.
local h = require "spec.helpers"
local psignal = require "posix.signal"
local wait = require "posix.sys.wait"
local socket = require "socket"
local cjson = require "cjson.safe"

local GOOD_SECRET = string.rep("s", 40)
-- main.c: a refused configuration exits 78 (EX_CONFIG, README "Processes").
local EX_CONFIG = 78

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
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { WORKERS = "2" },
      expect_crashes = true }
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

  -- Starts srv on a private copy of slow_start (two workers, 0.8 s to load the scripts) and
  -- returns app.lua's path as soon as the master listens: its workers are still loading "a".
  local function start_slow()
    local dir = h.copy_scripts("spec/fixtures/scripts/slow_start")
    srv = h.start{ scripts = dir, env = { WORKERS = "2" }, wait = false }
    assert.is_true(srv:wait_log("speezy listening", 15000), srv:log_tail())
    return dir .. "/app.lua"
  end

  it("holds a reload signalled while workers start until they can take it", function()
    local app_path = start_slow()
    h.write_file(app_path, (h.read_file(app_path):gsub('version = "a"', 'version = "b"')))
    srv:signal("HUP")
    srv:wait_ready(20000)
    local all_b = h.eventually(function()
      local hz = srv:healthz()
      if not (hz and hz.consistent) then return false end
      for _ = 1, 6 do
        if srv:request{ path = "/version" }.json.version ~= "b" then return false end
      end
      return true
    end, 15000, 100)
    assert.is_true(all_b, "not every worker serves the reloaded scripts:\n" .. srv:log_tail())
    -- whether a worker read "a" or already "b", each takes the held reload once it runs
    local reloads = h.eventually(function()
      local n = 0
      for _, line in ipairs(srv:log_lines()) do
        if tostring(line.msg):find("^reloaded: generation") then n = n + 1 end
      end
      return n >= 2 and n
    end, 10000)
    assert.equal(2, reloads, srv:log_tail())
    assert.is_nil(h.misbehaviour(srv:logs()))
  end)

  it("holds a stop signalled while workers start, then exits 0", function()
    start_slow()
    srv:signal("TERM")
    assert.equal(0, srv:wait_exit(20000), srv:log_tail())
    assert.is_nil(h.misbehaviour(srv:logs()))
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
    local logs = srv:logs()
    assert.equal(EX_CONFIG, code, logs)
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

  -- 31 bytes: one short of the README's "at least 32 bytes in production"
  for _, name in ipairs({ "JWT_SECRET", "OTP_SECRET", "ADMIN_TOKEN" }) do
    it("refuses production with a 31-byte " .. name .. ", naming it, not printing it", function()
      local short = name:lower():gsub("_", "-") .. "-" .. string.rep("x", 31)
      short = short:sub(1, 31)
      refuses({ [name] = short }, name, short)
    end)
  end

  it("refuses production without DATABASE_URL, naming it", function()
    refuses({ DATABASE_URL = false }, "DATABASE_URL")
  end)

  it("refuses production without REDIS_URL, naming it", function()
    refuses({ REDIS_URL = false }, "REDIS_URL")
  end)

  it("starts in production with long secrets", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = production_env({}) }
    assert.equal(200, srv:request{ path = "/hello" }.status)
  end)

  it("starts in production with secrets of exactly 32 bytes, and without ADMIN_TOKEN", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = production_env({
      JWT_SECRET = string.rep("j", 32), OTP_SECRET = string.rep("o", 32),
      ADMIN_TOKEN = false }) }
    assert.equal(200, srv:request{ path = "/hello" }.status)
    -- no token, no admin API
    assert.equal(404, srv:request{ path = "/admin/status" }.status)
  end)

  it("starts in production with an ADMIN_TOKEN of exactly 32 bytes", function()
    local token = string.rep("a", 32)
    srv = h.start{ scripts = "spec/fixtures/scripts/basic",
      env = production_env({ ADMIN_TOKEN = token }) }
    local res = srv:request{ path = "/admin/status",
      headers = { Authorization = "Bearer " .. token } }
    assert.equal(200, res.status, res.body)
  end)
end)

-- .env in the server's working directory (config.c): read at start, the environment wins.
-- h.start runs each server in a fresh directory, so these start theirs by hand in one that
-- holds a .env.
describe(".env", function()
  local pid, dir

  local function get(port, t)
    local sock = socket.tcp()
    sock:settimeout(5)
    local ok, err = sock:connect("127.0.0.1", port)
    if not ok then
      sock:close()
      return nil, err
    end
    sock:send(h.format_request(t))
    local data = sock:receive("*a")
    sock:close()
    return h.parse_responses(data or "")[1]
  end

  -- Starts `speezy serve` in dir (which holds the .env) with env on top of a test setup
  -- without PostgreSQL or Redis; returns the port once /healthz answers.
  local function serve_in(env)
    local port = h.free_port()
    local full = {
      SPEEZY_ENV = "test", HOST = "127.0.0.1", PORT = port, WORKERS = "1",
      SCRIPTS_DIR = h.root .. "/spec/fixtures/scripts/settings", PID_FILE = dir .. "/speezy.pid",
      DATABASE_URL = false, REDIS_URL = false, BODY_LIMIT = false, LOG_LEVEL = "info",
    }
    for k, v in pairs(env) do full[k] = v end
    pid = h.spawn({ h.bin, "serve" }, full, dir .. "/speezy.log", dir)
    local up = h.eventually(function()
      local res = get(port, { path = "/healthz", headers = { Connection = "close" } })
      return res and res.status == 200
    end, 15000)
    assert(up, "no /healthz; log:\n" .. (h.read_file(dir .. "/speezy.log") or ""))
    return port
  end

  before_each(function()
    dir = h.tmpdir("dotenv")
  end)

  after_each(function()
    if pid then
      psignal.kill(pid, psignal.SIGTERM)
      h.eventually(function() return wait.wait(pid, wait.WNOHANG) == pid end, 5000)
      psignal.kill(pid, psignal.SIGKILL)
    end
    pid = nil
  end)

  local function setting(port, name)
    local res = assert(get(port, { path = "/setting/" .. name,
      headers = { Connection = "close" } }))
    assert(res.status == 200 and res.json and res.json.ok, res.body)
    return res.json.value
  end

  it("loads the server's ./.env, and the environment wins over it", function()
    local wrong_port = h.free_port()
    h.write_file(dir .. "/.env", table.concat({
      "# settings for this test",
      "BODY_LIMIT=100",
      "PORT=" .. wrong_port,
      "FROM_DOTENV=dotenv-value",
      "export EXPORTED=exported-value",
      "QUOTED=\"a # b\"",
      "COMMENTED=plain # a comment",
      "BOTH=from-dotenv",
      "",
    }, "\n"))
    local port = serve_in({ BOTH = "from-environment", FROM_DOTENV = false, EXPORTED = false,
      QUOTED = false, COMMENTED = false })
    -- PORT from the environment, not .env's
    assert.is_nil(get(wrong_port, { path = "/healthz" }), "listening on .env's PORT")
    assert.equal("dotenv-value", setting(port, "FROM_DOTENV"))
    assert.equal("exported-value", setting(port, "EXPORTED"))
    assert.equal("a # b", setting(port, "QUOTED"))
    assert.equal("plain", setting(port, "COMMENTED"))
    assert.equal("from-environment", setting(port, "BOTH"))
    -- a host setting from .env: BODY_LIMIT=100
    local ok = get(port, { method = "POST", path = "/raw", body = string.rep("b", 100),
      headers = { Connection = "close" } })
    assert.equal(200, ok.status, ok.body)
    local res = get(port, { method = "POST", path = "/raw", body = string.rep("b", 101),
      headers = { Connection = "close" } })
    h.assert_error_envelope(res, 413, "PAYLOAD_TOO_LARGE")
  end)

  it("takes a secret the environment sets over .env's short one in production", function()
    h.write_file(dir .. "/.env", "SPEEZY_ENV=production\nJWT_SECRET=too-short\n"
      .. "OTP_SECRET=" .. string.rep("o", 32) .. "\n")
    serve_in({ SPEEZY_ENV = false, JWT_SECRET = string.rep("j", 32), OTP_SECRET = false,
      ADMIN_TOKEN = false,
      DATABASE_URL = os.getenv("SPEEZY_TEST_DATABASE_URL") or "postgresql://127.0.0.1:1/none",
      REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or "redis://127.0.0.1:1" })
    local log = h.read_file(dir .. "/speezy.log")
    assert.truthy(log:find("workers (production,", 1, true), log)
  end)

  it("refuses production when .env's secret is short and the environment sets none", function()
    h.write_file(dir .. "/.env", "SPEEZY_ENV=production\nJWT_SECRET=too-short\n")
    local code, out = h.run({ h.bin, "serve" }, { SPEEZY_ENV = false, JWT_SECRET = false,
      OTP_SECRET = string.rep("o", 32), DATABASE_URL = "postgresql://127.0.0.1:1/none",
      REDIS_URL = "redis://127.0.0.1:1", SCRIPTS_DIR = h.root .. "/spec/fixtures/scripts/basic",
      PORT = h.free_port(), HOST = "127.0.0.1", PID_FILE = dir .. "/speezy.pid" },
      { cwd = dir, timeout_ms = 10000 })
    assert.equal(EX_CONFIG, code, out)
    assert.truthy(out:find("JWT_SECRET is too short", 1, true), out)
    assert.falsy(out:find("too-short", 1, true), out)
  end)
end)

describe("LOG_LEVEL", function()
  it("keeps lines under it out of every process' log, master and workers", function()
    local srv = h.start{ scripts = "spec/fixtures/scripts/basic",
      env = { LOG_LEVEL = "warn", WORKERS = "2" } }
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.equal(500, srv:request{ path = "/boom" }.status)
    assert.equal(0, srv:stop())
    local levels, errors = {}, 0
    for line in srv:logs():gmatch("[^\n]+") do
      local j = cjson.decode(line)
      assert(type(j) == "table", "not a JSON line: " .. line)
      if j.level ~= "warn" and j.level ~= "error" then levels[#levels + 1] = line end
      if j.level == "error" and tostring(j.msg):find("kaboom", 1, true) then errors = errors + 1 end
    end
    assert.equal(1, errors, "the handler's error line is missing:\n" .. srv:logs())
    assert.same({}, levels)
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
