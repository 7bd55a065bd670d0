-- I/O at a script's top level (README "Handlers": scripts load with I/O disabled, so pg.query
-- there raises): a generation whose module queries PostgreSQL while loading is refused by
-- `speezy serve`, `speezy check`, SIGHUP and POST /admin/reload alike, each naming the file,
-- the line and the reason, while a running server keeps serving the generation it had.
-- Scripts: spec/fixtures/scripts/toplevel_io (pg.query at routes/settings.lua:9).
local h = require "spec.helpers"

local FIX = "spec/fixtures/scripts/toplevel_io"
local WHERE = "routes/settings.lua:9"
local REASON = "pg.query: I/O is not allowed here"
local TOKEN = string.rep("t0p", 12)

local function says_why(text)
  assert.truthy(text:find(WHERE, 1, true), "does not name " .. WHERE .. ":\n" .. text)
  assert.truthy(text:find(REASON, 1, true), "does not say '" .. REASON .. "':\n" .. text)
end

describe("pg.query at a script's top level", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("keeps `speezy serve` from starting", function()
    srv = h.start{ scripts = FIX, wait = false }
    local code = srv:wait_exit(10000)
    assert.truthy(code, "still running on scripts that query while loading")
    assert.not_equal(0, code)
    says_why(srv:logs())
  end)

  it("fails `speezy check`", function()
    local code, out = h.run({ h.bin, "check" }, {
      SPEEZY_ENV = "test", SCRIPTS_DIR = h.root .. "/" .. FIX,
      DATABASE_URL = os.getenv("SPEEZY_TEST_DATABASE_URL") or false,
      REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or false,
    }, { cwd = h.tmpdir("check") })
    assert.not_equal(0, code)
    says_why(out)
  end)

  it("is refused by a reload, SIGHUP or admin, and the old generation serves on", function()
    local dir = h.copy_scripts("spec/fixtures/scripts/reload_a")
    srv = h.start{ scripts = dir, env = { ADMIN_TOKEN = TOKEN } }
    local gen = srv.generation
    assert.equal(0, os.execute("cp -R " .. h.shell_quote(h.root .. "/" .. FIX) .. "/. "
      .. h.shell_quote(dir)))

    srv:signal("HUP")
    assert.is_true(srv:wait_log(WHERE, 5000), "no " .. WHERE .. " in the log:\n" .. srv:log_tail())
    says_why(srv:logs())
    assert.equal(gen, srv:healthz().generation)
    assert.equal("a", srv:request{ path = "/version" }.json.version)

    local res = srv:request{ method = "POST", path = "/admin/reload",
      headers = { Authorization = "Bearer " .. TOKEN } }
    local j = h.assert_error_envelope(res, 422, "RELOAD_REFUSED")
    says_why(j.error.message)
    assert.equal(gen, srv:healthz().generation)
    assert.equal("a", srv:request{ path = "/version" }.json.version)
  end)
end)
