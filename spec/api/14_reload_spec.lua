-- Hot reload (issue #2, "Hot reload"): SIGHUP, `speezy reload`, the development file watcher,
-- in-flight requests finishing on their generation, broken scripts refused with file:line
-- while the old generation keeps serving, and 20 reloads under wrk load without one failure.
-- `speezy check` and `speezy reload` exit 1 on a refused script, naming file:line, 0 when it
-- loads (README "Processes" lists the exit codes).
local h = require "spec.helpers"

local FIX = h.root .. "/spec/fixtures/scripts/"
local VERSION_A = h.read_file(FIX .. "reload_a/app.lua")
local VERSION_B = h.read_file(FIX .. "reload_b/app.lua")
local BROKEN_SYNTAX = h.read_file(FIX .. "broken_syntax/app.lua")
local BROKEN_RUNTIME = h.read_file(FIX .. "broken_runtime/app.lua")

local function version(srv)
  local res = srv:request{ path = "/version" }
  assert(res.status == 200, "GET /version: " .. res.status_line .. " " .. res.body)
  return res.json.version
end

-- `speezy <command>` with the server's environment, in its directory: exit code, output.
local function cli(srv, command)
  return h.run({ h.bin, command }, srv.env, { cwd = srv.dir })
end

-- `speezy check` on a scripts folder, from a directory without a .env.
local function check(dir)
  return h.run({ h.bin, "check" }, { SPEEZY_ENV = "test", SCRIPTS_DIR = dir },
    { cwd = h.tmpdir("check") })
end

-- A server on a private copy of reload_a, so the test may rewrite app.lua.
local function start_a(env)
  local dir = h.copy_scripts("spec/fixtures/scripts/reload_a")
  local srv = h.start{ scripts = dir, env = env }
  return srv, dir .. "/app.lua"
end

describe("hot reload", function()
  local srv, app_path

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("swaps to the new scripts on SIGHUP", function()
    srv, app_path = start_a()
    assert.equal("a", version(srv))
    local gen_a = srv.generation
    h.write_file(app_path, VERSION_B)
    local gen_b = srv:reload()
    assert.not_equal(gen_a, gen_b)
    assert.equal("b", version(srv))
    h.write_file(app_path, VERSION_A)
    assert.equal(gen_a, srv:reload(), "the generation is not a hash of the scripts")
    assert.equal("a", version(srv))
  end)

  it("swaps on `speezy reload` (signals the master named in PID_FILE)", function()
    srv, app_path = start_a()
    h.write_file(app_path, VERSION_B)
    srv:reload{ via = "cli" }
    assert.equal("b", version(srv))
  end)

  it("swaps every worker", function()
    srv, app_path = start_a{ WORKERS = "2" }
    h.write_file(app_path, VERSION_B)
    srv:reload()
    for _ = 1, 20 do assert.equal("b", version(srv)) end
  end)

  it("finishes an in-flight request on the generation that started it", function()
    srv, app_path = start_a()
    local conn = srv:connect()
    conn:send(h.format_request{ path = "/slow" })
    h.sleep(100)
    h.write_file(app_path, VERSION_B)
    srv:reload()
    assert.equal("b", version(srv))
    local res = assert(conn:read_response{ timeout_ms = 3000 })
    conn:close()
    assert.equal(200, res.status)
    assert.equal("a", res.json.version)
  end)

  it("reloads on a file change in development mode", function()
    srv, app_path = start_a{ SPEEZY_ENV = "development" }
    assert.equal("a", version(srv))
    h.write_file(app_path, VERSION_B)
    -- an edit may be seen half-written: only the settled answer counts
    local switched = h.eventually(function()
      local res = srv:request{ path = "/version" }
      return res.status == 200 and res.json.version == "b"
    end, 5000, 100)
    assert.is_true(switched, "the file watcher did not reload; log:\n" .. srv:log_tail())
  end)

  it("refuses a script with a syntax error, logs file:line, keeps serving", function()
    srv, app_path = start_a()
    local gen = srv.generation
    h.write_file(app_path, BROKEN_SYNTAX)
    srv:signal("HUP")
    assert.is_true(srv:wait_log("app.lua:5", 5000), "no app.lua:5 in the log:\n" .. srv:log_tail())
    assert.equal("a", version(srv))
    assert.equal(gen, srv:healthz().generation)
    -- and the next good version still goes through
    h.write_file(app_path, VERSION_B)
    srv:reload()
    assert.equal("b", version(srv))
  end)

  it("refuses a script that raises while loading, logs file:line, keeps serving", function()
    srv, app_path = start_a()
    local gen = srv.generation
    h.write_file(app_path, BROKEN_RUNTIME)
    srv:signal("HUP")
    assert.is_true(srv:wait_log("app.lua:6", 5000), "no app.lua:6 in the log:\n" .. srv:log_tail())
    assert.equal("a", version(srv))
    assert.equal(gen, srv:healthz().generation)
  end)

  it("refuses to start on a broken script, naming file:line", function()
    srv = h.start{ scripts = "spec/fixtures/scripts/broken_syntax", wait = false }
    local code = srv:wait_exit(5000)
    assert.truthy(code, "still running on a broken script")
    assert.equal(1, code, "scripts refused exit 1 (README, Processes); log:\n" .. srv:log_tail())
    assert.truthy(srv:logs():find("app.lua:5", 1, true), srv:log_tail())
  end)

  it("`speezy reload` exits 1 on a broken script with file:line, 0 once it swapped", function()
    srv, app_path = start_a()
    local gen_a = srv.generation
    h.write_file(app_path, BROKEN_SYNTAX)
    local code, out = cli(srv, "reload")
    assert.equal(1, code, out)
    assert.truthy(out:find("app.lua:5", 1, true), out)
    assert.equal(gen_a, srv:healthz().generation)
    assert.equal("a", version(srv))
    h.write_file(app_path, VERSION_B)
    code, out = cli(srv, "reload")
    assert.equal(0, code, out)
    local said = out:match("reloaded: generation (%x+) is serving")
    assert.truthy(said, out)
    assert.not_equal(gen_a, said)
    assert.equal(said, srv:healthz().generation)
    assert.equal("b", version(srv))
  end)

  it("`speezy reload` exits 1 when no server runs at PID_FILE", function()
    srv, app_path = start_a()
    srv:stop()
    local code, out = cli(srv, "reload")
    assert.equal(1, code, out)
    assert.truthy(out:find("no running server found", 1, true), out)
  end)

  it("reloads 20 times under load with zero failed requests", function()
    srv, app_path = start_a{ WORKERS = "1" }
    local load = h.wrk_start{ port = srv.port, path = "/version", connections = 50,
      threads = 1, duration_s = 300 }
    h.sleep(500)
    local switched = 0
    for i = 1, 20 do
      local want = i % 2 == 1 and "b" or "a"
      h.write_file(app_path, want == "b" and VERSION_B or VERSION_A)
      srv:reload()
      if version(srv) == want then switched = switched + 1 end
      h.sleep(100)
    end
    -- then a broken script, refused while the load goes on
    h.write_file(app_path, BROKEN_SYNTAX)
    srv:signal("HUP")
    local refused = srv:wait_log("app.lua:5", 5000)
    h.sleep(300)
    local still = version(srv)
    local r = load:stop()
    assert.is_true(r.ok, "wrk printed no summary:\n" .. r.output)
    assert.is_true(r.requests > 1000, "too little load: " .. r.requests .. " requests")
    assert.equal(0, r.errors, "socket errors under reload:\n" .. r.output)
    assert.equal(0, r.non2xx, "failed requests under reload:\n" .. r.output)
    assert.equal(20, switched)
    assert.is_true(refused, "broken script not reported")
    assert.equal("a", still)
  end)
end)

describe("speezy check", function()
  it("exits 0 on loadable scripts and names their generation", function()
    local code, out = check(FIX .. "reload_a")
    assert.equal(0, code, out)
    assert.matches("^ok: generation %x+, 1 files, %d+ routes", out)
  end)

  it("exits 1 on a syntax error, naming file:line", function()
    local code, out = check(FIX .. "broken_syntax")
    assert.equal(1, code, out)
    assert.truthy(out:find("app.lua:5", 1, true), out)
  end)

  it("exits 1 on a script that raises while loading, naming file:line", function()
    local code, out = check(FIX .. "broken_runtime")
    assert.equal(1, code, out)
    assert.truthy(out:find("app.lua:6", 1, true), out)
  end)
end)
