-- 23_credentials_spec.lua — the servers spec/tools/servers.sh starts have passwords of their
-- folder's own: PostgreSQL asks for it over TCP (scram-sha-256), Redis has requirepass. So a
-- server reaches its own folder's servers only: when another folder's (another checkout's)
-- take over the ports while ours are stopped, speezy reports them down instead of using them.
-- A folder made before passwords is upgraded in place, running or stopped, keeping its data.
-- Routes: spec/fixtures/scripts/data.
local h = require "spec.helpers"
local pstat = require "posix.sys.stat"

local SCRIPTS = "spec/fixtures/scripts/data"
local SERVERS_SH = h.root .. "/spec/tools/servers.sh"

local psql, must_psql = h.psql, h.must_psql

-- redis-cli's output (replies and errors: it exits 0 on an error reply) with args as given
-- (-u URL or -h/-p, then a command); no REDISCLI_AUTH from the environment.
local function redis_cli(args)
  local argv = { "redis-cli", "--no-auth-warning" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local _, out = h.run(argv, { REDISCLI_AUTH = false })
  return (out:gsub("%s+$", ""))
end

-- The URL with its user info's password replaced (false: removed).
local function with_password(url, password)
  local scheme, user, rest = url:match("^(%a[%w+.-]*://)([^:@/]*):[^@/]*@(.*)$")
  assert(scheme, "no password in " .. url)
  if password then return scheme .. user .. ":" .. password .. "@" .. rest end
  local keep = user ~= "" and user ~= "default" -- redis://default:... becomes redis://host
  return scheme .. (keep and user .. "@" or "") .. rest
end

local function env_of(dir)
  local text = assert(h.read_file(dir .. "/env"), "no env in " .. dir)
  local env = {}
  for k, v in text:gmatch("([%w_]+)=([^\n]*)") do env[k] = v end
  return env
end

local function servers_sh(cmd, dir, env)
  local code, out = h.run({ SERVERS_SH, cmd, dir }, env, { timeout_ms = 90000 })
  assert(code == 0, ("servers.sh %s failed (%d): %s"):format(cmd, code, out))
  return out
end

local function readyz(srv)
  return srv:request{ path = "/readyz", timeout_ms = 15000 }
end

-- /readyz answers 503 with postgres and redis both down.
local function assert_both_down(srv)
  local res = readyz(srv)
  local j = h.assert_error_envelope(res, 503, "NOT_READY")
  assert.equal("down", j.error.details.postgres.status, res.body)
  assert.equal("down", j.error.details.redis.status, res.body)
end

local function wait_ready(srv)
  return h.eventually(function() return readyz(srv).status == 200 end, 20000, 200)
end

describe("the harness' PostgreSQL", function()
  local servers = h.servers()

  it("accepts its URL, which carries the folder's password", function()
    assert.is_string(servers.pg_password)
    assert.truthy(servers.database_url:find(":" .. servers.pg_password .. "@", 1, true))
    assert.equal("postgres", must_psql(servers.database_url, "SELECT current_user"))
  end)

  it("refuses a connection without the password", function()
    local code, out = psql(with_password(servers.database_url, false), "SELECT 1")
    assert.are_not.equal(0, code, out)
    assert.truthy(out:find("no password supplied", 1, true), out)
  end)

  it("refuses a wrong password", function()
    local code, out = psql(with_password(servers.database_url, "0123abcd"), "SELECT 1")
    assert.are_not.equal(0, code, out)
    assert.truthy(out:find('password authentication failed for user "postgres"', 1, true), out)
  end)
end)

describe("the harness' Redis", function()
  local servers = h.servers()

  it("accepts its URL, which carries the folder's password", function()
    assert.is_string(servers.redis_password)
    assert.truthy(servers.redis_url:find(":" .. servers.redis_password .. "@", 1, true))
    local out = redis_cli({ "-u", servers.redis_url, "PING" })
    assert.equal("PONG", out)
  end)

  it("refuses commands without AUTH (NOAUTH)", function()
    local out = redis_cli({ "-h", "127.0.0.1", "-p", tostring(servers.redis_port), "SET",
      "credentials:probe", "x" })
    assert.truthy(out:find("NOAUTH", 1, true), out)
    out = redis_cli({ "-u", with_password(servers.redis_url, false), "PING" })
    assert.truthy(out:find("NOAUTH", 1, true), out)
  end)

  it("refuses a wrong password (WRONGPASS)", function()
    local out = redis_cli({ "-u", with_password(servers.redis_url, "0123abcd"), "PING" })
    assert.truthy(out:find("WRONGPASS", 1, true), out)
    assert.falsy(out:find("PONG", 1, true), out)
  end)

  it("keeps the passwords and the URLs in files only their owner reads", function()
    for _, name in ipairs({ "passwords", "env", "redis/redis.conf" }) do
      local st = assert(pstat.stat(servers.dir .. "/" .. name), name .. " is missing")
      assert.equal("600", ("%o"):format(bit.band(st.st_mode, 511)), name)
    end
  end)
end)

describe("speezy against servers with passwords", function()
  local srv, servers

  setup(function()
    servers = h.servers()
    srv = h.start{ scripts = SCRIPTS, env = { PG_POOL_WAIT_MS = "1000",
      REDIS_TIMEOUT_MS = "2000" } }
    -- the pool opens its first connection in the background, slower under the sanitizers
    assert(h.eventually(function() return readyz(srv).status == 200 end, 20000, 200),
      "never ready: " .. srv:log_tail())
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("is ready and uses both with the URLs' passwords", function()
    local res = readyz(srv)
    assert.equal(200, res.status, res.body)
    assert.equal(200, srv:request{ path = "/pg/ping" }.status)
    local k = ("credentials-%d"):format(os.time())
    res = srv:request{ method = "POST", path = "/redis/incr/" .. k }
    assert.equal(200, res.status, res.body)
    assert.equal(1, res.json.n)
  end)

  it("reports both down when its URLs lack the passwords", function()
    local bare = h.start{ scripts = SCRIPTS, env = { PG_POOL_WAIT_MS = "1000",
      REDIS_TIMEOUT_MS = "2000", DATABASE_URL = with_password(servers.database_url, false),
      REDIS_URL = with_password(servers.redis_url, false) } }
    finally(function() bare:stop() end)
    assert_both_down(bare)
    assert.equal(200, bare:request{ path = "/healthz" }.status)
  end)

  -- What a tester saw: checkout A's servers stopped, checkout B started its own on the same
  -- ports, and A's running server used B's database with /readyz saying "up".
  it("never uses another folder's servers that took over its ports", function()
    servers.stop_pg()
    servers.stop_redis()
    local other = h.tmpdir("other") .. "/servers"
    finally(function()
      servers_sh("destroy", other)
      servers.start_pg()
      servers.start_redis()
    end)
    servers_sh("start", other, { SERVERS_PG_PORT = servers.pg_port,
      SERVERS_REDIS_PORT = servers.redis_port })
    local env = env_of(other)
    assert.equal(tostring(servers.pg_port), env.PG_PORT)
    assert.equal(tostring(servers.redis_port), env.REDIS_PORT)
    -- the other folder's servers do answer on these ports, to their own URLs...
    assert.equal("1", must_psql(env.DATABASE_URL, "SELECT 1"))
    -- ...but refuse ours, and speezy says so
    local code, out = psql(servers.database_url, "SELECT 1")
    assert.are_not.equal(0, code, out)
    assert.truthy(out:find("password authentication failed", 1, true), out)
    out = redis_cli({ "-u", servers.redis_url, "PING" })
    assert.truthy(out:find("WRONGPASS", 1, true), out)
    assert_both_down(srv)
    assert_both_down(srv)
    servers_sh("destroy", other)
    servers.start_pg()
    servers.start_redis()
    assert.truthy(wait_ready(srv), "/readyz did not come back with our own servers")
  end)
end)

-- Turns a running or stopped folder back into what servers.sh made before passwords: trust
-- for everyone in pg_hba.conf (initdb -A trust), no requirepass (in Redis, and in the
-- redis.conf it was started with), no DIR/passwords.
local LEGACY_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
  .. "host all all ::1/128 trust\n"

local function make_legacy(dir, env, running)
  h.write_file(env.PGDATA .. "/pg_hba.conf", LEGACY_HBA)
  if running then
    must_psql(env.DATABASE_URL, "SELECT pg_reload_conf()")
    local out = redis_cli({ "-u", env.REDIS_URL, "CONFIG", "SET", "requirepass", "" })
    assert.equal("OK", out)
    local conf = dir .. "/redis/redis.conf"
    h.write_file(conf, (assert(h.read_file(conf)):gsub("requirepass [^\n]*\n", "")))
  end
  assert(os.remove(dir .. "/passwords"))
end

describe("servers.sh on a folder made before passwords", function()
  local dir

  setup(function()
    dir = h.tmpdir("legacy") .. "/servers"
  end)

  teardown(function()
    if dir then servers_sh("destroy", dir) end
  end)

  -- The upgraded folder: new passwords that work, none that no longer does, data kept.
  local function assert_upgraded(old, want_rows)
    local env = env_of(dir)
    assert.are_not.equal(old.DATABASE_URL, env.DATABASE_URL)
    assert.are_not.equal(old.REDIS_URL, env.REDIS_URL)
    assert.equal(want_rows,
      must_psql(env.DATABASE_URL, "SELECT string_agg(v, ',' ORDER BY v) FROM kept"))
    local code, out = psql(with_password(env.DATABASE_URL, false), "SELECT 1")
    assert.are_not.equal(0, code, out)
    out = redis_cli({ "-u", with_password(env.REDIS_URL, false), "PING" })
    assert.truthy(out:find("NOAUTH", 1, true), out)
    out = redis_cli({ "-u", env.REDIS_URL, "PING" })
    assert.equal("PONG", out)
    return env
  end

  it("upgrades it in place when running, then when stopped, keeping its data", function()
    servers_sh("start", dir)
    local env = env_of(dir)
    must_psql(env.DATABASE_URL, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('a')")
    make_legacy(dir, env, true)
    -- a real legacy folder: no password needed anywhere
    assert.equal("1", must_psql(with_password(env.DATABASE_URL, false), "SELECT 1"))
    local out = redis_cli({ "-u", with_password(env.REDIS_URL, false), "SET", "kept", "r" })
    assert.equal("OK", out)

    servers_sh("start", dir)
    local upgraded = assert_upgraded(env, "a")
    out = redis_cli({ "-u", upgraded.REDIS_URL, "GET", "kept" })
    assert.equal("r", out, "the running Redis lost its data")

    must_psql(upgraded.DATABASE_URL, "INSERT INTO kept VALUES ('b')")
    servers_sh("stop", dir)
    make_legacy(dir, upgraded, false)
    servers_sh("start", dir)
    assert_upgraded(upgraded, "a,b")
  end)
end)
