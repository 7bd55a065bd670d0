-- The operations API (DESIGN.md "Hot reload": an authenticated admin endpoint): POST
-- /admin/reload validates the scripts and reloads every worker, GET /admin/status reports
-- what each worker serves. Both need `Authorization: Bearer $ADMIN_TOKEN`.
local h = require "spec.helpers"

local FIX = h.root .. "/spec/fixtures/scripts/"
local VERSION_B = h.read_file(FIX .. "reload_b/app.lua")
local BROKEN_SYNTAX = h.read_file(FIX .. "broken_syntax/app.lua")
local TOKEN = string.rep("t0k3n", 8)

local function admin(srv, method, path, token)
  return srv:request{ method = method, path = path,
                      headers = { Authorization = token and ("Bearer " .. token) or nil } }
end

describe("admin API", function()
  local srv, app_path

  before_each(function()
    local dir = h.copy_scripts("spec/fixtures/scripts/reload_a")
    app_path = dir .. "/app.lua"
    srv = h.start{ scripts = dir, env = { WORKERS = "2", ADMIN_TOKEN = TOKEN } }
  end)

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("refuses requests without the right token", function()
    for _, token in ipairs { false, "wrong", TOKEN .. "x", TOKEN:sub(2) } do
      local res = admin(srv, "GET", "/admin/status", token or nil)
      assert.equal(401, res.status)
      h.assert_error_envelope(res, 401, "UNAUTHORIZED")
    end
  end)

  it("refuses POST /admin/reload without the right token, and reloads nothing", function()
    local before = srv:healthz().generation
    h.write_file(app_path, VERSION_B)
    for _, token in ipairs { false, "wrong", TOKEN .. "x", TOKEN:sub(2) } do
      local res = admin(srv, "POST", "/admin/reload", token or nil)
      h.assert_error_envelope(res, 401, "UNAUTHORIZED")
      assert.is_nil(res.json.generation)
    end
    -- a refused call signals nobody: the master never logs a SIGHUP, no worker swaps
    local swapped = h.eventually(function()
      return srv:logs():find("SIGHUP", 1, true) or srv:healthz().generation ~= before
    end, 1500, 100)
    assert.falsy(swapped, "a refused call reloaded; log:\n" .. srv:log_tail())
    assert.equal("a", srv:request{ path = "/version" }.json.version)
    -- the same change goes through with the token: the calls above had something to reload
    assert.equal(202, admin(srv, "POST", "/admin/reload", TOKEN).status)
    srv:wait_generation_change(before)
    assert.equal("b", srv:request{ path = "/version" }.json.version)
  end)

  it("reports every worker's generation", function()
    local res = admin(srv, "GET", "/admin/status", TOKEN)
    assert.equal(200, res.status)
    assert.equal(2, #res.json.workers)
    assert.is_true(res.json.consistent)
    assert.equal(srv:healthz().generation, res.json.generation)
  end)

  it("reloads every worker after validating the scripts", function()
    local before = srv:healthz().generation
    h.write_file(app_path, VERSION_B)
    local res = admin(srv, "POST", "/admin/reload", TOKEN)
    assert.equal(202, res.status)
    assert.not_equal(before, res.json.generation)
    assert.equal(res.json.generation, srv:wait_generation_change(before))
    for _ = 1, 10 do assert.equal("b", srv:request{ path = "/version" }.json.version) end
  end)

  it("refuses a broken script with file:line and keeps serving the old one", function()
    local before = srv:healthz().generation
    h.write_file(app_path, BROKEN_SYNTAX)
    local res = admin(srv, "POST", "/admin/reload", TOKEN)
    h.assert_error_envelope(res, 422, "RELOAD_REFUSED")
    assert.truthy(res.json.error.message:find("app.lua:%d+"), res.json.error.message)
    assert.equal(before, srv:healthz().generation)
    assert.equal("a", srv:request{ path = "/version" }.json.version)
  end)

  -- A refused reload's message used to go out unterminated, followed by stack bytes.
  it("reports a refused reload in /admin/status as valid JSON, message exactly", function()
    h.write_file(app_path, BROKEN_SYNTAX)
    local refused = admin(srv, "POST", "/admin/reload", TOKEN)
    h.assert_error_envelope(refused, 422, "RELOAD_REFUSED")
    srv:signal("HUP") -- every worker refuses it too and remembers why
    assert.truthy(h.eventually(function()
      local _, n = srv:logs():gsub("reload refused", "")
      return n == 2
    end), srv:log_tail())
    local want = refused.json.error.message
    for _ = 1, 4 do -- both workers
      local res = admin(srv, "GET", "/admin/status", TOKEN)
      assert.equal(200, res.status)
      assert.equal("application/json", res.headers["content-type"])
      assert.is_table(res.json, "not JSON: " .. res.body)
      assert.is_true(res.json.success)
      assert.equal(want, res.json.lastReloadError)
      assert.equal(2, #res.json.workers)
    end
  end)

  it("is absent when no ADMIN_TOKEN is configured", function()
    srv:stop()
    srv = h.start{ scripts = "spec/fixtures/scripts/reload_a", env = { ADMIN_TOKEN = false } }
    assert.equal(404, admin(srv, "GET", "/admin/status", TOKEN).status)
  end)
end)
