-- 27_redis_policy_spec.lua — a Redis that does not lose jobs (issue #14). The Redis that
-- spec/tools/servers.sh starts (for `make run` and for the tests) keeps its data across a
-- restart (appendonly yes, fsync every second) and never evicts (maxmemory-policy
-- noeviction), and a folder from before the AOF, stopped or running, is converted with its
-- keys. `speezy serve` and `speezy jobs` read the maxmemory-policy of the Redis they are
-- given before they fork (host/redis_policy.c): any other policy is a warning in development
-- and test and a refusal in production (exit 78, naming the setting); a Redis they cannot ask
-- is a warning in every mode, and they start. Routes: spec/fixtures/scripts/basic.
local h = require "spec.helpers"

local SERVERS_SH = h.root .. "/spec/tools/servers.sh"
local SCRIPTS = "spec/fixtures/scripts/basic"
-- main.c: a refused configuration exits 78 (EX_CONFIG, README "Processes").
local EX_CONFIG = 78
local GOOD_SECRET = string.rep("s", 40)

-- redis-cli's trimmed output (it exits 0 on an error reply) on 127.0.0.1:port, with the
-- password in REDISCLI_AUTH as servers.sh passes it, never on the command line.
local function redis_cli(port, password, ...)
  local argv = { "redis-cli", "-h", "127.0.0.1", "-p", tostring(port), ... }
  local _, out = h.run(argv, { REDISCLI_AUTH = password or false })
  return (out:gsub("%s+$", ""))
end

-- The value CONFIG GET answers for name ("" when it names no setting).
local function config_get(port, password, name)
  local out = redis_cli(port, password, "CONFIG", "GET", name)
  return out:match("^[^\n]*\n([^\n]*)$") or ""
end

local function servers_sh(cmd, dir, env)
  local code, out = h.run({ SERVERS_SH, cmd, dir }, env, { timeout_ms = 90000 })
  assert(code == 0, ("servers.sh %s failed (%d): %s"):format(cmd, code, out))
  return out
end

local seq = 0
local function key(prefix)
  seq = seq + 1
  return ("%s-%d-%d"):format(prefix, os.time(), seq)
end

-- A string, a list (a queue's shape) and a hash, written through redis-cli; returns a
-- function that asserts they all read back the same.
local function write_keys(port, password)
  local s, l, hk = key("str"), key("list"), key("hash")
  assert.equal("OK", redis_cli(port, password, "SET", s, "job-payload"))
  assert.equal("3", redis_cli(port, password, "RPUSH", l, "job-1", "job-2", "job-3"))
  assert.equal("2", redis_cli(port, password, "HSET", hk, "state", "queued", "tries", "0"))
  return function(when)
    assert.equal("job-payload", redis_cli(port, password, "GET", s), "the string " .. when)
    assert.equal("job-1\njob-2\njob-3", redis_cli(port, password, "LRANGE", l, "0", "-1"),
      "the list " .. when)
    assert.equal("queued\n0", redis_cli(port, password, "HMGET", hk, "state", "tries"),
      "the hash " .. when)
  end
end

describe("the harness' Redis", function()
  local servers = h.servers()

  it("runs with appendonly yes, appendfsync everysec and maxmemory-policy noeviction", function()
    assert.is_string(servers.redis_password)
    local port, pw = servers.redis_port, servers.redis_password
    assert.equal("yes", config_get(port, pw, "appendonly"))
    assert.equal("everysec", config_get(port, pw, "appendfsync"))
    assert.equal("noeviction", config_get(port, pw, "maxmemory-policy"))
  end)

  it("keeps its keys across restart-redis", function()
    local port, pw = servers.redis_port, servers.redis_password
    local still_there = write_keys(port, pw)
    local pid_before = h.read_file(servers.dir .. "/redis/redis.pid")
    servers.restart_redis()
    -- a new process read them back, not the same one answering
    assert.are_not.equal(pid_before, h.read_file(servers.dir .. "/redis/redis.pid"))
    still_there("after restart-redis")
  end)
end)

-- A folder servers.sh made before the AOF (both modes): Redis 7.0 started with appendonly
-- yes where only dump.rdb holds the data would start empty. servers.sh converts it, and a
-- running one, keeping every key, and the AOF then carries them across restarts.
for _, mode in ipairs({ "dev", "test" }) do
  describe("servers.sh in " .. mode .. " mode on a folder from before the AOF", function()
    local env = { SERVERS_MODE = mode }
    local dir, port, pw

    before_each(function()
      dir = h.tmpdir("legacy-" .. mode) .. "/servers"
      servers_sh("start-redis", dir, env)
      port = tonumber(h.read_file(dir .. "/ports"):match("REDIS_PORT=(%d+)"))
      pw = h.read_file(dir .. "/passwords"):match("REDIS_PASSWORD=(%x+)")
    end)

    after_each(function()
      servers_sh("destroy", dir)
    end)

    -- redis.conf as an older servers.sh wrote it: appendonly no, no eviction policy.
    local function legacy_conf()
      local conf = dir .. "/redis/redis.conf"
      local text = assert(h.read_file(conf))
      text = text:gsub("appendonly yes\n", "appendonly no\n"):gsub("maxmemory%-policy [^\n]*\n", "")
      h.write_file(conf, text)
    end

    it("converts a stopped one, whose keys are in dump.rdb only, keeping them", function()
      local still_there = write_keys(port, pw)
      assert.equal("OK", redis_cli(port, pw, "SAVE"))
      servers_sh("stop-redis", dir, env)
      assert(os.execute("rm -rf " .. h.shell_quote(dir .. "/redis/appendonlydir")) == 0)
      legacy_conf()
      servers_sh("start-redis", dir, env)
      still_there("after the first start with the AOF")
      assert.equal("yes", config_get(port, pw, "appendonly"))
      assert.equal("noeviction", config_get(port, pw, "maxmemory-policy"))
      -- `make run` twice: the AOF now holds them
      servers_sh("stop-redis", dir, env)
      servers_sh("start-redis", dir, env)
      still_there("after the second start")
      servers_sh("restart-redis", dir, env)
      still_there("after restart-redis")
    end)

    it("converts a running one, keeping its keys across the next restart", function()
      assert.equal("OK", redis_cli(port, pw, "CONFIG", "SET", "appendonly", "no"))
      assert.equal("OK", redis_cli(port, pw, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru"))
      assert(os.execute("rm -rf " .. h.shell_quote(dir .. "/redis/appendonlydir")) == 0)
      legacy_conf()
      local still_there = write_keys(port, pw)
      servers_sh("start-redis", dir, env)
      assert.equal("yes", config_get(port, pw, "appendonly"))
      assert.equal("noeviction", config_get(port, pw, "maxmemory-policy"))
      still_there("after the upgrade")
      servers_sh("restart-redis", dir, env)
      still_there("after restart-redis")
    end)
  end)
end

describe("speezy serve, on the maxmemory-policy of its Redis", function()
  local servers = h.servers()
  local srv

  local function set_policy(policy)
    local out = redis_cli(servers.redis_port, servers.redis_password,
      "CONFIG", "SET", "maxmemory-policy", policy)
    assert(out == "OK", "CONFIG SET maxmemory-policy " .. policy .. ": " .. out)
  end

  -- Another policy on the harness' Redis for one test; noeviction again whatever happens.
  local function evicting(policy)
    finally(function() set_policy("noeviction") end)
    set_policy(policy)
  end

  local function env_for(mode, extra)
    local env = { SPEEZY_ENV = mode, LOG_LEVEL = "debug" }
    if mode == "production" then
      env.JWT_SECRET, env.OTP_SECRET = GOOD_SECRET, GOOD_SECRET .. "o"
      env.ADMIN_TOKEN = GOOD_SECRET .. "a"
    end
    for k, v in pairs(extra or {}) do env[k] = v end
    return env
  end

  -- The log lines (decoded) whose message holds text.
  local function lines_with(s, text)
    local found = {}
    for _, line in ipairs(s:log_lines()) do
      if type(line.msg) == "string" and line.msg:find(text, 1, true) then
        found[#found + 1] = line
      end
    end
    return found
  end

  -- The one line that holds text, at level; raises with the log otherwise.
  local function the_line(s, text, level)
    local found = lines_with(s, text)
    assert(#found == 1, ("%d lines hold %q; log:\n%s"):format(#found, text, s:log_tail()))
    assert.equal(level, found[1].level, found[1].msg)
    return found[1].msg
  end

  -- The harness' URL with its port or password replaced, or "/db" added.
  local function url_with(t)
    local url = servers.redis_url
    if t.port then url = url:gsub(":%d+$", ":" .. t.port) end
    if t.password then url = url:gsub(":%x+@", ":" .. t.password .. "@") end
    if t.db then url = url .. "/" .. t.db end
    return url
  end

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  for _, mode in ipairs({ "development", "test" }) do
    it("starts in " .. mode .. " under allkeys-lru, warning which setting and why", function()
      evicting("allkeys-lru")
      srv = h.start{ scripts = SCRIPTS, env = env_for(mode) }
      assert.equal(200, srv:request{ path = "/hello" }.status)
      local msg = the_line(srv, "maxmemory-policy allkeys-lru", "warn")
      assert.truthy(msg:find("queued jobs", 1, true), msg)
      assert.truthy(msg:find("set maxmemory-policy noeviction", 1, true), msg)
    end)
  end

  it("refuses to start in production under allkeys-lru: exit 78, naming the setting", function()
    evicting("allkeys-lru")
    srv = h.start{ scripts = SCRIPTS, env = env_for("production"), wait = false }
    local code = srv:wait_exit(15000)
    assert.equal(EX_CONFIG, code, srv:log_tail())
    local msg = the_line(srv, "maxmemory-policy allkeys-lru", "error")
    assert.truthy(msg:find("production needs maxmemory-policy noeviction", 1, true), msg)
    assert.truthy(msg:find("queued jobs", 1, true), msg)
    -- refused before anything started
    assert.equal(0, #lines_with(srv, "listening"), srv:logs())
  end)

  it("refuses `speezy jobs` in production under allkeys-lru the same way", function()
    evicting("allkeys-lru")
    local dir = h.tmpdir("jobs")
    local env = env_for("production", { DATABASE_URL = servers.database_url,
      REDIS_URL = servers.redis_url, SCRIPTS_DIR = h.root .. "/" .. SCRIPTS,
      PID_FILE = dir .. "/speezy.pid", WORKERS = "1" })
    -- refused before forking, so it exits by itself; a consumer that started would not
    local code, out = h.run({ h.bin, "jobs" }, env, { cwd = dir, timeout_ms = 15000 })
    assert.equal(EX_CONFIG, code, out)
    assert.truthy(out:find("maxmemory-policy allkeys-lru", 1, true), out)
    assert.truthy(out:find("production needs maxmemory-policy noeviction", 1, true), out)
  end)

  it("refuses volatile-lru in production too: only noeviction keeps every job", function()
    evicting("volatile-lru")
    srv = h.start{ scripts = SCRIPTS, env = env_for("production"), wait = false }
    assert.equal(EX_CONFIG, srv:wait_exit(15000), srv:log_tail())
    the_line(srv, "maxmemory-policy volatile-lru", "error")
  end)

  it("starts in production under noeviction, saying so only at debug level", function()
    srv = h.start{ scripts = SCRIPTS, env = env_for("production") }
    assert.equal(200, srv:request{ path = "/hello" }.status)
    the_line(srv, "has maxmemory-policy noeviction", "debug")
    assert.equal(1, #lines_with(srv, "maxmemory-policy"), srv:logs())
  end)

  it("asks through the URL's user, password and db", function()
    evicting("allkeys-lru")
    -- redis://default:<password>@host:port/3: AUTH default <password>, SELECT 3, INFO
    srv = h.start{ scripts = SCRIPTS, wait = false,
      env = env_for("production", { REDIS_URL = url_with{ db = 3 } }) }
    assert.equal(EX_CONFIG, srv:wait_exit(15000), srv:log_tail())
    the_line(srv, "maxmemory-policy allkeys-lru", "error")
  end)

  it("warns and starts when SELECT is refused (db 16 of 16)", function()
    srv = h.start{ scripts = SCRIPTS,
      env = env_for("production", { REDIS_URL = url_with{ db = 16 } }) }
    local msg = the_line(srv, "cannot check the maxmemory-policy", "warn")
    assert.truthy(msg:find("SELECT answered ERR", 1, true), msg)
  end)

  for _, mode in ipairs({ "development", "test", "production" }) do
    it("warns and starts in " .. mode .. " when Redis is unreachable", function()
      local port = h.free_port()
      srv = h.start{ scripts = SCRIPTS,
        env = env_for(mode, { REDIS_URL = url_with{ port = port } }) }
      assert.equal(200, srv:request{ path = "/hello" }.status)
      local msg = the_line(srv, "cannot check the maxmemory-policy", "warn")
      assert.truthy(msg:find("127.0.0.1:" .. port, 1, true), msg)
      assert.truthy(msg:find("starting anyway", 1, true), msg)
    end)
  end

  it("warns and starts in production when Redis refuses the password, never printing it", function()
    local wrong = "0123456789abcdef0123456789abcdef"
    srv = h.start{ scripts = SCRIPTS,
      env = env_for("production", { REDIS_URL = url_with{ password = wrong } }) }
    assert.equal(200, srv:request{ path = "/hello" }.status)
    local msg = the_line(srv, "cannot check the maxmemory-policy", "warn")
    assert.truthy(msg:find("WRONGPASS", 1, true), msg)
    srv:stop()
    assert.falsy(srv:logs():find(wrong, 1, true), "the wrong password was logged")
    assert.falsy(srv:logs():find(servers.redis_password, 1, true), "the password was logged")
  end)

  it("warns and starts in production when Redis hangs, after REDIS_TIMEOUT_MS", function()
    servers.freeze_redis()
    finally(function() servers.thaw_redis() end)
    srv = h.start{ scripts = SCRIPTS, env = env_for("production", { REDIS_TIMEOUT_MS = "300" }) }
    assert.equal(200, srv:request{ path = "/hello" }.status)
    the_line(srv, "cannot check the maxmemory-policy", "warn")
  end)

  it("says nothing about it without REDIS_URL", function()
    srv = h.start{ scripts = SCRIPTS, env = env_for("development", { REDIS_URL = false }) }
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.equal(0, #lines_with(srv, "maxmemory-policy"), srv:logs())
  end)
end)
