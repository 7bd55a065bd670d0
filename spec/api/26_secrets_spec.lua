-- Secrets stay in the host (README: "Secrets are never logged", `core.setting` "non-secret
-- settings only"). The passwords inside DATABASE_URL and REDIS_URL, ADMIN_TOKEN, JWT_SECRET
-- and OTP_SECRET appear nowhere in what the server writes (its whole stdout and stderr, at
-- LOG_LEVEL=debug) nor in its answers: while it serves, reloads, refuses a reload, answers
-- admin calls with the right and a wrong token, and while PostgreSQL or Redis is unreachable
-- or refuses the password. Scripts get ordinary settings from core.setting and an error for
-- a secret's name (host/bind/bind_core.c). Routes: spec/fixtures/scripts/settings.
local h = require "spec.helpers"

local SCRIPTS = "spec/fixtures/scripts/settings"
local FIX = h.root .. "/spec/fixtures/scripts/"
local BROKEN_SYNTAX = h.read_file(FIX .. "broken_syntax/app.lua")

-- tag-<32 random hex digits>: at least 32 bytes, and found in a log only if it was written.
local function secret(tag)
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(16)
  f:close()
  return tag .. "-" .. bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
end

-- The URL with its user info's password (and with port, its port) replaced.
local function with_password(url, password, port)
  local scheme, user, host, rest = url:match("^(%a[%w+.-]*://)([^:@/]*):[^@/]*@([^:/]+)(.*)$")
  assert(scheme, "no password in " .. url)
  if port then rest = rest:gsub("^:%d+", ":" .. port) end
  return scheme .. user .. ":" .. password .. "@" .. host .. rest
end

-- Fails naming the secret and the first line that holds it; `where` says whose text it is.
local function assert_hidden(text, secrets, where)
  for name, value in pairs(secrets) do
    local at = text:find(value, 1, true)
    if at then
      local from = (text:sub(1, at):match(".*()\n") or 0) + 1
      error(("%s holds %s: %s"):format(where, name, text:sub(from, at + #value + 80)), 2)
    end
  end
end

-- What the server wrote, after it stopped (every line flushed): no secret in it, and each of
-- the lines in `expect` (plain text) there, so the test saw what it meant to see.
local function assert_log_hides(srv, secrets, expect)
  srv:stop()
  local text = srv:logs()
  for _, want in ipairs(expect) do
    assert(text:find(want, 1, true), ("no %q in the log:\n%s"):format(want, text:sub(-3000)))
  end
  assert_hidden(text, secrets, "the log")
end

-- The request's answer; its body is kept in bodies to be searched for secrets too.
local function call(srv, bodies, t)
  local res = srv:request(t)
  bodies[#bodies + 1] = res.status_line .. "\n" .. res.body
  return res
end

describe("secrets in the log", function()
  local servers = h.servers()
  local srv

  local JWT, OTP, ADMIN = secret("jwt"), secret("otp"), secret("admin")
  local function secrets(extra)
    local s = { JWT_SECRET = JWT, OTP_SECRET = OTP, ADMIN_TOKEN = ADMIN,
      ["the PostgreSQL password"] = servers.pg_password,
      ["the Redis password"] = servers.redis_password }
    for k, v in pairs(extra or {}) do s[k] = v end
    return s
  end

  local function start(env)
    local full = { LOG_LEVEL = "debug", WORKERS = "2", JWT_SECRET = JWT, OTP_SECRET = OTP,
      ADMIN_TOKEN = ADMIN, PG_POOL_WAIT_MS = "500", PG_CONNECT_TIMEOUT_MS = "1000",
      REDIS_TIMEOUT_MS = "1000" }
    for k, v in pairs(env or {}) do full[k] = v end
    local dir = h.copy_scripts(SCRIPTS)
    local started = h.start{ scripts = dir, env = full }
    return started, dir .. "/app.lua"
  end

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("knows the harness' passwords (the URLs carry them)", function()
    assert.is_string(servers.pg_password)
    assert.is_string(servers.redis_password)
    assert.truthy(servers.database_url:find(servers.pg_password, 1, true))
    assert.truthy(servers.redis_url:find(servers.redis_password, 1, true))
  end)

  it("are never logged while serving, reloading, refusing a reload, on admin calls", function()
    local app_path
    srv, app_path = start()
    local bodies = {}
    local function admin(method, path, token)
      return call(srv, bodies, { method = method, path = path,
        headers = { Authorization = token and ("Bearer " .. token) or nil } })
    end
    assert.equal(200, call(srv, bodies, { path = "/pg" }).status)
    assert.equal(200, call(srv, bodies, { path = "/redis" }).status)
    assert.equal(200, call(srv, bodies, { path = "/readyz" }).status)
    -- a secret's name asked for from a script, raised out of its handler: 500, logged
    h.assert_error_envelope(call(srv, bodies, { path = "/setting-raised/ADMIN_TOKEN" }), 500)
    -- admin calls: right token, wrong ones (one holding the token, one a stranger's)
    local stranger = secret("stranger")
    assert.equal(200, admin("GET", "/admin/status", ADMIN).status)
    for _, token in ipairs({ ADMIN .. "x", stranger }) do
      assert.equal(401, admin("GET", "/admin/status", token).status)
      assert.equal(401, admin("POST", "/admin/reload", token).status)
    end
    -- reloads: by the admin API, by SIGHUP, then a refused one each way
    local gen = srv.generation
    h.write_file(app_path, h.read_file(app_path) .. "\n-- changed\n")
    assert.equal(202, admin("POST", "/admin/reload", ADMIN).status)
    srv:wait_generation_change(gen)
    h.write_file(app_path, h.read_file(app_path) .. "-- changed again\n")
    srv:reload()
    h.write_file(app_path, BROKEN_SYNTAX)
    assert.equal(422, admin("POST", "/admin/reload", ADMIN).status)
    srv:signal("HUP")
    assert.is_true(srv:wait_log("reload refused", 5000), srv:log_tail())
    assert.equal(200, admin("GET", "/admin/status", ADMIN).status)
    assert_hidden(table.concat(bodies, "\n"), secrets({ stranger = stranger }), "an answer")
    assert_log_hides(srv, secrets({ stranger = stranger }), {
      "redis: connected", "is a secret and stays in the host", "reloaded: generation",
      "reload refused", "SIGHUP", "\"status\":401" })
  end)

  it("are never logged while PostgreSQL is unreachable and Redis refuses the password", function()
    local wrong = secret("wrong-redis-password")
    srv = start{
      DATABASE_URL = with_password(servers.database_url, servers.pg_password, h.free_port()),
      REDIS_URL = with_password(servers.redis_url, wrong) }
    local bodies = {}
    h.assert_error_envelope(call(srv, bodies, { path = "/pg" }), 503, "DB_UNAVAILABLE")
    h.assert_error_envelope(call(srv, bodies, { path = "/redis" }), 503, "REDIS_UNAVAILABLE")
    h.assert_error_envelope(call(srv, bodies, { path = "/readyz" }), 503, "NOT_READY")
    assert_hidden(table.concat(bodies, "\n"), secrets({ wrong = wrong }), "an answer")
    assert_log_hides(srv, secrets({ ["the wrong Redis password"] = wrong }),
      { "pg: cannot connect", "Connection refused", "WRONGPASS" })
  end)

  it("are never logged while PostgreSQL refuses the password and Redis is unreachable", function()
    local wrong = secret("wrong-pg-password")
    srv = start{
      DATABASE_URL = with_password(servers.database_url, wrong),
      REDIS_URL = with_password(servers.redis_url, servers.redis_password, h.free_port()) }
    local bodies = {}
    h.assert_error_envelope(call(srv, bodies, { path = "/pg" }), 503, "DB_UNAVAILABLE")
    h.assert_error_envelope(call(srv, bodies, { path = "/redis" }), 503, "REDIS_UNAVAILABLE")
    h.assert_error_envelope(call(srv, bodies, { path = "/readyz" }), 503, "NOT_READY")
    assert_hidden(table.concat(bodies, "\n"), secrets({ wrong = wrong }), "an answer")
    assert_log_hides(srv, secrets({ ["the wrong PostgreSQL password"] = wrong }),
      { "password authentication failed", "redis: cannot connect" })
  end)
end)

describe("core.setting", function()
  local srv
  local values = {
    JWT_SECRET = secret("jwt"), OTP_SECRET = secret("otp"), ADMIN_TOKEN = secret("admin"),
    PAYMENT_API_KEY = secret("key"), SMTP_PASSWORD = secret("smtp"),
    WEBHOOK_SECRET = secret("hook"), SESSION_TOKEN = secret("session"),
  }

  setup(function()
    local env = { FEATURE_FLAG = "on", SPEEZY_UNSET_SETTING = false }
    for k, v in pairs(values) do env[k] = v end
    srv = h.start{ scripts = SCRIPTS, env = env }
    values.DATABASE_URL = srv.env.DATABASE_URL or nil
    values.REDIS_URL = srv.env.REDIS_URL or nil
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local function setting(name)
    local res = srv:request{ path = "/setting/" .. name }
    assert(res.status == 200 and res.json, res.status_line .. " " .. res.body)
    return res.json, res
  end

  it("returns ordinary settings, and the default for an unset one", function()
    assert.same({ success = true, ok = true, value = "on" }, setting("FEATURE_FLAG"))
    assert.equal(tostring(srv.port), setting("PORT").value)
    assert.equal("info", setting("LOG_LEVEL").value)
    assert.equal("default", setting("SPEEZY_UNSET_SETTING").value)
    -- unset and asked without a default: a numeric setting's value is the host's own default
    local res = srv:request{ path = "/setting-raised/QUEUE_LOCK_MS" }
    assert.equal(200, res.status, res.body)
    assert.equal("30000", res.json.value)
  end)

  it("refuses every secret's name with an error naming it, never its value", function()
    local names = { "JWT_SECRET", "OTP_SECRET", "ADMIN_TOKEN", "PAYMENT_API_KEY",
      "SMTP_PASSWORD", "WEBHOOK_SECRET", "SESSION_TOKEN", "DATABASE_URL", "REDIS_URL" }
    for _, name in ipairs(names) do
      local j, res = setting(name)
      assert.is_false(j.ok, name .. " was returned: " .. res.body)
      assert.truthy(j.err:find("core.setting: '" .. name .. "' is a secret and stays in the host",
        1, true), j.err)
      assert_hidden(res.body, values, "the answer for " .. name)
    end
  end)

  it("raised out of a handler: 500 INTERNAL, the name in the log, not the value", function()
    local res = srv:request{ path = "/setting-raised/JWT_SECRET" }
    h.assert_error_envelope(res, 500, "INTERNAL")
    assert_hidden(res.body, values, "the answer")
    assert.is_true(srv:wait_log("'JWT_SECRET' is a secret", 3000), srv:log_tail())
    assert_hidden(srv:logs(), values, "the log")
  end)
end)
