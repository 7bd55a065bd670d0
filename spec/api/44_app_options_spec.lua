-- Route options of speezy.app (issue #16): `auth = true` lets any signed-in caller through and
-- puts { id, role, sid } on req.user before any hook runs; a role list lets only those roles
-- through; every refusal is 401 UNAUTHORIZED with WWW-Authenticate (no token, a tampered or
-- expired one, a revoked session, read from Redis or from PostgreSQL) or 403 FORBIDDEN (a role
-- outside the list), and neither hook nor handler runs. The other options are recorded as given
-- and listed by app.routes(); a misused option refuses the scripts with the script's file:line,
-- at `speezy check` and at reload, where the old generation keeps serving.
-- Routes: spec/fixtures/scripts/routes.
local h = require "spec.helpers"

local FIXTURE = "spec/fixtures/scripts/routes"
local JWT_SECRET = "spec-jwt-secret-0123456789abcdef0123456789"

-- A fresh E.164 phone per call: each login is a new user.
local base, seq = (os.time() % 100000) * 1000, 0
local function phone()
  seq = seq + 1
  return ("+1%09d"):format(base + seq)
end

local function start(scripts)
  return h.start{ scripts = scripts or FIXTURE, env = { JWT_SECRET = JWT_SECRET } }
end

describe("route options", function()
  local srv

  setup(function()
    srv = start()
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  -- { token, id, sid } of a new user with that role and a live session
  local function login(role, extra)
    local body = { phone = phone(), role = role }
    for k, v in pairs(extra or {}) do body[k] = v end
    local res = srv:post_json("/login", body)
    assert(res.status == 200, res.body)
    return res.json
  end

  local function get(path, token, headers)
    headers = headers or {}
    if token then headers.Authorization = "Bearer " .. token end
    return srv:request{ path = path, headers = headers }
  end

  local function ran(name)
    local res = srv:request{ path = "/ran/" .. name }
    assert(res.status == 200, res.body)
    return res.json.n
  end

  -- A 401 as RFC 6750 has it, with neither the hooks nor the handler run.
  local function refused(res, www, handler)
    h.assert_error_envelope(res, 401, "UNAUTHORIZED")
    assert.equal(www, res.headers["www-authenticate"])
    return handler
  end

  describe("auth = true", function()
    it("lets a signed-in caller through, with req.user set before the hooks ran", function()
      local who = login("CUSTOMER")
      local res = get("/me", who.token)
      assert.equal(200, res.status, res.body)
      assert.same({ id = who.id, role = "CUSTOMER", sid = who.sid }, res.json.user)
      assert.equal("CUSTOMER", res.json.seen, "the hook ran before req.user was set")
    end)

    it("answers 401 without a token, and neither the hooks nor the handler run", function()
      local hooks, handled = ran("hook"), ran("me")
      refused(get("/me"), 'Bearer realm="speezy"')
      refused(get("/me", nil, { Authorization = "Basic dTpw" }),
        'Bearer realm="speezy", error="invalid_request"')
      assert.equal(hooks, ran("hook"), "a hook ran for a refused request")
      assert.equal(handled, ran("me"), "the handler ran for a refused request")
    end)

    it("answers 401 to a tampered token", function()
      local who = login("CUSTOMER")
      -- the payload of another role, under the original signature
      local head, payload, sig = who.token:match("^([^.]+)%.([^.]+)%.([^.]+)$")
      local other = login("ADMIN").token:match("^[^.]+%.([^.]+)%.")
      assert.is_not_nil(sig)
      refused(get("/me", head .. "." .. other .. "." .. sig),
        'Bearer realm="speezy", error="invalid_token"')
      refused(get("/me", head .. "." .. payload .. "." .. sig:sub(2) .. "A"),
        'Bearer realm="speezy", error="invalid_token"')
    end)

    it("answers 401 to an expired token", function()
      local who = login("CUSTOMER", { exp = os.time() - 120 })
      refused(get("/me", who.token), 'Bearer realm="speezy", error="invalid_token"')
    end)

    it("answers 401 once the session is revoked, as Redis remembers it", function()
      local who = login("CUSTOMER")
      assert.equal(200, get("/me", who.token).status)
      assert.equal(200, srv:post_json("/revoke", { sid = who.sid, where = "redis" }).status)
      local handled = ran("me")
      refused(get("/me", who.token), 'Bearer realm="speezy", error="invalid_token"')
      assert.equal(handled, ran("me"))
    end)

    it("answers 401 once the session is revoked in PostgreSQL and Redis lost its state",
      function()
        local who = login("CUSTOMER")
        assert.equal(200, get("/me", who.token).status)
        assert.equal(200, srv:post_json("/revoke", { sid = who.sid, where = "pg" }).status)
        refused(get("/me", who.token), 'Bearer realm="speezy", error="invalid_token"')
        -- and remembers it, so the next check is one GET
        assert.equal("revoked", h.redis_cli("GET", "sess:" .. who.sid))
      end)

    it("reads a live session Redis does not know from PostgreSQL, and remembers it", function()
      local who = login("DELIVERY_PARTNER", { cache = false })
      assert.equal("", h.redis_cli("GET", "sess:" .. who.sid))
      local res = get("/me", who.token)
      assert.equal(200, res.status, res.body)
      assert.equal("DELIVERY_PARTNER", res.json.user.role)
      assert.equal("live", h.redis_cli("GET", "sess:" .. who.sid))
      local ttl = tonumber(h.redis_cli("TTL", "sess:" .. who.sid))
      assert.is_true(ttl > 3000 and ttl <= 3600, "sess: key TTL " .. tostring(ttl))
    end)
  end)

  describe("auth = a list of roles", function()
    it("lets each role of the list through", function()
      for _, role in ipairs({ "STORE_OWNER", "ADMIN" }) do
        local res = get("/staff", login(role).token)
        assert.equal(200, res.status, res.body)
        assert.equal(role, res.json.role)
      end
    end)

    it("answers 403 FORBIDDEN to another role, and neither hooks nor handler run", function()
      local hooks, handled = ran("hook"), ran("staff")
      for _, role in ipairs({ "CUSTOMER", "DELIVERY_PARTNER" }) do
        local res = get("/staff", login(role).token)
        local j = h.assert_error_envelope(res, 403, "FORBIDDEN")
        assert.equal("this route is for STORE_OWNER, ADMIN", j.error.message)
        assert.equal('Bearer realm="speezy", error="insufficient_scope"',
          res.headers["www-authenticate"])
      end
      assert.equal(hooks, ran("hook"))
      assert.equal(handled, ran("staff"))
    end)

    it("answers 401, not 403, without a token", function()
      refused(get("/staff"), 'Bearer realm="speezy"')
    end)
  end)

  it("leaves a plain route and auth = false open, with no req.user even given a token",
    function()
      local who = login("CUSTOMER")
      local res = get("/open", who.token)
      assert.equal(200, res.status, res.body)
      assert.equal("none", res.json.user)
    end)

  it("sends a string body as text/plain when its headers table has no Content-Type", function()
    local res = get("/text", login("CUSTOMER").token)
    assert.equal(200, res.status, res.body)
    assert.equal("signed-in words", res.body)
    assert.equal("1", res.headers["x-extra"])
    assert.equal("text/plain; charset=utf-8", res.headers["content-type"])
  end)

  describe("app.routes()", function()
    local function routes()
      local res = srv:request{ path = "/routes" }
      assert.equal(200, res.status, res.body)
      local by = {}
      for i, r in ipairs(res.json.routes) do
        r.index = i
        by[r.method .. " " .. r.path] = r
      end
      return res.json.routes, by
    end

    it("lists every route in registration order, the host's own first", function()
      local list = routes()
      local names = {}
      for i = 1, 10 do names[i] = list[i].method .. " " .. list[i].path end
      assert.same({ "GET /readyz", "GET /openapi.json", "GET /ran/:name", "POST /login",
        "POST /revoke", "GET /open", "GET /me", "GET /staff", "POST /declared/:id", "GET /text" },
        names)
      assert.is_true(list[1].builtin)
      assert.is_true(list[2].builtin)
      assert.is_nil(list[3].builtin)
    end)

    it("holds each route's options, normalized", function()
      local _, by = routes()
      assert.same({ auth = false }, by["GET /open"].options)
      assert.same({ auth = true }, by["GET /me"].options)
      assert.same({ auth = { list = { "STORE_OWNER", "ADMIN" },
        set = { STORE_OWNER = true, ADMIN = true } } }, by["GET /staff"].options)
      -- schemas as JSON Schema (speezy.schema's json_schema(): what /openapi.json publishes)
      local object = { type = "object", additionalProperties = false }
      assert.same({
        auth = true, idempotent = true, deprecated = true,
        body = object, query = object, params = object,
        summary = "Every option", description = "A route declaring each option",
        tags = { "t1", "t2" },
      }, by["POST /declared/:id"].options)
    end)
  end)
end)

-- Misused options: `speezy check` on a scripts dir holding only app.lua, as a reload would load it.
describe("a misused route option", function()
  local function check(src)
    local dir = h.tmpdir("misuse")
    h.write_file(dir .. "/app.lua", src)
    return h.run({ h.bin, "check" }, { SPEEZY_ENV = "test", SCRIPTS_DIR = dir },
      { cwd = h.tmpdir("check") })
  end

  -- src's line marked "--<" is where the error must point.
  local function refuses(src, what, msg)
    local n, line = 0, nil
    for l in (src .. "\n"):gmatch("(.-)\n") do
      n = n + 1
      if l:find("--<", 1, true) then line = n end
    end
    assert(line, "no --< mark in the case")
    local code, out = check('local app = require "speezy.app"\n' .. src)
    assert.equal(1, code, out)
    local want = ("app.lua:%d: %s: %s"):format(line + 1, what, msg)
    assert.truthy(out:find(want, 1, true), ("does not say %q:\n%s"):format(want, out))
  end

  local F = "function() return 200 end"
  local CASES = {
    { "an unknown key", "app.get('/a', { auht = true }, " .. F .. ") --<", "app.get",
      "unknown option 'auht'" },
    { "auth neither boolean nor list", "app.post('/a', { auth = 'yes' }, " .. F .. ") --<",
      "app.post", "option auth must be true, false or a non-empty list of roles" },
    { "an empty role list", "app.put('/a', { auth = {} }, " .. F .. ") --<", "app.put",
      "option auth must be true, false or a non-empty list of roles" },
    { "an unknown role", "app.patch('/a', { auth = { 'ADMIN', 'ROOT' } }, " .. F .. ") --<",
      "app.patch", "option auth: unknown role 'ROOT'" },
    { "a role that is not a string", "app.get('/a', { auth = { 1 } }, " .. F .. ") --<",
      "app.get", "option auth must be true, false or a non-empty list of roles" },
    { "idempotent not boolean", "app.delete('/a', { idempotent = 1 }, " .. F .. ") --<",
      "app.delete", "option idempotent must be a boolean, got number" },
    { "idempotent without auth", "app.post('/a', { idempotent = true }, " .. F .. ") --<",
      "app.post", "option idempotent needs auth: Idempotency-Keys belong to a user" },
    { "an invalid body schema", "app.post('/a', { body = { type = 'text' } }, " .. F .. ") --<",
      "schema", "body" },
    { "deprecated not boolean", "app.get('/a', { deprecated = 'no' }, " .. F .. ") --<",
      "app.get", "option deprecated must be a boolean, got string" },
    { "body not a table", "app.post('/a', { body = 'json' }, " .. F .. ") --<", "app.post",
      "option body must be a table, got string" },
    { "query not a table", "app.get('/a', { query = true }, " .. F .. ") --<", "app.get",
      "option query must be a table, got boolean" },
    { "params not a table", "app.get('/a', { params = 1 }, " .. F .. ") --<", "app.get",
      "option params must be a table, got number" },
    { "summary not a string", "app.get('/a', { summary = 3 }, " .. F .. ") --<", "app.get",
      "option summary must be a string, got number" },
    { "description not a string", "app.get('/a', { description = {} }, " .. F .. ") --<",
      "app.get", "option description must be a string, got table" },
    { "tags not a list of strings", "app.get('/a', { tags = 'x' }, " .. F .. ") --<",
      "app.get", "option tags must be a list of strings" },
    { "options not a table", "app.get('/a', 'open', " .. F .. ") --<", "app.get",
      "options must be a table, got string" },
    { "no handler after the options", "app.get('/a', { auth = true }) --<", "app.get",
      "handler must be a function" },
    { "app.route's options", "app.route('PURGE', '/a', { auth = 'x' }, " .. F .. ") --<",
      "app.route", "option auth must be true, false or a non-empty list of roles" },
  }

  for _, case in ipairs(CASES) do
    it("is refused with file:line: " .. case[1], function()
      refuses(case[2], case[3], case[4])
    end)
  end

  it("is refused at reload, and the old generation keeps serving", function()
    local dir = h.copy_scripts(FIXTURE)
    local srv = start(dir)
    local ok, err = pcall(function()
      local before = srv:healthz().generation
      local src = h.read_file(dir .. "/app.lua")
      local line = select(2, src:gsub("\n", "")) + 1
      h.write_file(dir .. "/app.lua", src ..
        "app.get('/new', { auth = { 'CUSTOMER', 'OWNER' } }, function() return 200 end)\n")
      srv:signal("HUP")
      local want = ("app.lua:%d: app.get: option auth: unknown role 'OWNER'"):format(line)
      assert.is_true(srv:wait_log(want, 10000), "no refusal naming " .. want .. ":\n" ..
        srv:log_tail())
      assert.equal(before, srv:healthz().generation)
      assert.equal(200, srv:request{ path = "/open" }.status)
      h.assert_error_envelope(srv:request{ path = "/new" }, 404, "NOT_FOUND")
    end)
    srv:stop()
    assert(ok, err)
  end)
end)
