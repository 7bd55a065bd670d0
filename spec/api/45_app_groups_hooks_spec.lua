-- app.group and scoped hooks of speezy.app (issue #16): a group's routes get its prefix (nested
-- groups add theirs) and its options as defaults, a route's own option winning (auth = false
-- opens one route of an auth group); g.use hooks run only for the group's routes and those of
-- its nested groups, after app.use's, outer to inner, whenever they were added; the host's own
-- /readyz and /healthz never run an application hook; groups and their routes are refused once
-- the scripts have loaded, and misused with the script's file:line while they load.
-- Routes: spec/fixtures/scripts/routes (groups.lua).
local h = require "spec.helpers"

local JWT_SECRET = "spec-jwt-secret-0123456789abcdef0123456789"

local base, seq = (os.time() % 100000) * 1000 + 500, 0
local function phone()
  seq = seq + 1
  return ("+2%09d"):format(base + seq)
end

describe("app.group", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/routes", env = { JWT_SECRET = JWT_SECRET } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local function token(role)
    local res = srv:post_json("/login", { phone = phone(), role = role })
    assert(res.status == 200, res.body)
    return res.json.token
  end

  local function get(path, role, method)
    local headers = {}
    if role then headers.Authorization = "Bearer " .. token(role) end
    return srv:request{ method = method, path = path, headers = headers }
  end

  describe("prefix", function()
    it("is put before each route's path, and the bare path is not served", function()
      local res = get("/shop/7", "CUSTOMER")
      assert.equal(200, res.status, res.body)
      assert.equal("/shop/:id", res.json.route)
      assert.equal("7", res.json.params.id)
      h.assert_error_envelope(get("/7", "CUSTOMER"), 404, "NOT_FOUND")
    end)

    it("alone is the path of the group's route \"/\"", function()
      local res = get("/shop")
      assert.equal(200, res.status, res.body)
      assert.equal("/shop", res.json.route)
    end)

    it("of a nested group follows its parent's", function()
      local res = get("/shop/admin/stats", "ADMIN")
      assert.equal(200, res.status, res.body)
      assert.equal("/shop/admin/stats", res.json.route)
    end)

    it("works with a group that has no options", function()
      local res = get("/pub/x")
      assert.equal(200, res.status, res.body)
      assert.equal("none", res.json.user)
    end)
  end)

  describe("options", function()
    it("are the defaults of the group's routes: auth = true asks for a token", function()
      h.assert_error_envelope(get("/shop/7"), 401, "UNAUTHORIZED")
      assert.equal("CUSTOMER", get("/shop/7", "CUSTOMER").json.user.role)
    end)

    it("give way to a route's own: auth = false opens one route of an auth group", function()
      local res = get("/shop/open/info")
      assert.equal(200, res.status, res.body)
      assert.equal("none", res.json.user)
    end)

    it("give way to a route's role list", function()
      h.assert_error_envelope(get("/shop/stock", "CUSTOMER", "POST"), 403, "FORBIDDEN")
      local res = get("/shop/stock", "STORE_OWNER", "POST")
      assert.equal(200, res.status, res.body)
    end)

    it("of a nested group override its parent's", function()
      h.assert_error_envelope(get("/shop/admin/stats", "STORE_OWNER"), 403, "FORBIDDEN")
      h.assert_error_envelope(get("/shop/admin/stats"), 401, "UNAUTHORIZED")
    end)

    it("show in app.routes(), with the full path", function()
      local res = srv:request{ path = "/routes" }
      assert.equal(200, res.status, res.body)
      local by = {}
      for _, r in ipairs(res.json.routes) do by[r.method .. " " .. r.path] = r.options end
      assert.same({ auth = true, tags = { "shop" } }, by["GET /shop/:id"])
      assert.same({ auth = false, tags = { "shop" } }, by["GET /shop"])
      assert.same({ auth = false, tags = { "info" } }, by["GET /shop/open/info"])
      assert.same({ auth = { list = { "STORE_OWNER" }, set = { STORE_OWNER = true } },
        tags = { "shop" }, summary = "Add stock" }, by["POST /shop/stock"])
      assert.same({ auth = { list = { "ADMIN" }, set = { ADMIN = true } }, tags = { "shop" } },
        by["GET /shop/admin/stats"])
      assert.same({ auth = false }, by["GET /pub/x"])
    end)
  end)

  describe("hooks", function()
    it("of a group run for its routes, after app.use's, even when added after them", function()
      assert.same({ "global", "shop" }, get("/shop/7", "CUSTOMER").json.trail)
      assert.same({ "global", "shop" }, get("/shop/open/info").json.trail)
    end)

    it("of a nested group run after its parent's", function()
      assert.same({ "global", "shop", "admin" }, get("/shop/admin/stats", "ADMIN").json.trail)
    end)

    it("of a group do not run for a route outside it", function()
      assert.same({ "global" }, get("/outside").json.trail)
      assert.same({ "global" }, get("/pub/x").json.trail)
    end)

    it("of the application never run for /readyz or /healthz", function()
      -- the global hook answers 401 to X-Deny: it does for an application route
      local deny = { ["X-Deny"] = "1" }
      h.assert_error_envelope(srv:request{ path = "/outside", headers = deny }, 401,
        "UNAUTHORIZED")
      local ready = srv:request{ path = "/readyz", headers = deny }
      assert.equal(200, ready.status, ready.body)
      assert.is_true(ready.json.success)
      local health = srv:request{ path = "/healthz", headers = deny }
      assert.equal(200, health.status, health.body)
    end)
  end)

  describe("once the scripts have loaded", function()
    it("refuses app.group", function()
      local res = get("/late/group")
      assert.equal(200, res.status, res.body)
      assert.is_false(res.json.ok)
      assert.truthy(res.json.err:find("groups.lua:%d+: app.group: groups are registered " ..
        "only while scripts load"), res.json.err)
    end)

    it("refuses a route added through a group kept from loading time", function()
      local res = get("/late/kept")
      assert.is_false(res.json.ok)
      assert.truthy(res.json.err:find("groups.lua:%d+: g.get: routes are registered only " ..
        "while scripts load"), res.json.err)
    end)
  end)
end)

describe("a misused group", function()
  local function refuses(src, want)
    local dir = h.tmpdir("misuse")
    h.write_file(dir .. "/app.lua", 'local app = require "speezy.app"\n' .. src)
    local code, out = h.run({ h.bin, "check" }, { SPEEZY_ENV = "test", SCRIPTS_DIR = dir },
      { cwd = h.tmpdir("check") })
    assert.equal(1, code, out)
    assert.truthy(out:find(want, 1, true), ("does not say %q:\n%s"):format(want, out))
  end

  it("is refused with file:line: a prefix without a leading /", function()
    refuses("app.group('shop', function() end)",
      "app.lua:2: app.group: prefix must start with / and not end with /")
  end)

  it("is refused with file:line: a prefix ending with /", function()
    refuses("app.group('/shop/', function() end)",
      "app.lua:2: app.group: prefix must start with / and not end with /")
  end)

  it("is refused with file:line: an unknown option of the group", function()
    refuses("app.group('/shop', { auht = true }, function() end)",
      "app.lua:2: app.group: unknown option 'auht'")
  end)

  it("is refused with file:line: no function", function()
    refuses("app.group('/shop', { auth = true })",
      "app.lua:2: app.group: the last argument must be a function")
  end)

  it("is refused with file:line: a route's path without a leading / inside it", function()
    refuses("app.group('/shop', function(g)\n  g.get('x', function() end)\nend)",
      "app.lua:3: g.get: path must start with /")
  end)

  it("is refused with file:line: a bad option of a route inside it", function()
    refuses("app.group('/shop', function(g)\n  g.group('/in', function(i)\n" ..
      "    i.post('/x', { idempotent = 'yes' }, function() end)\n  end)\nend)",
      "app.lua:4: g.post: option idempotent must be a boolean, got string")
  end)

  it("is refused with file:line: a hook that is not a function", function()
    refuses("app.group('/shop', function(g)\n  g.use('auth')\nend)",
      "app.lua:3: g.use: hook must be a function")
  end)
end)
