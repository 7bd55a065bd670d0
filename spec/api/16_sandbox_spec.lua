-- The script sandbox (DESIGN.md "Sandbox and budgets"): no io, os.execute, debug, ffi, load,
-- bytecode, package or new globals; only scripts' own files and the public speezy.* modules;
-- a script's own coroutine can't strand the request.
local h = require "spec.helpers"

describe("sandbox", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/sandbox" }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("refuses every way out, naming what was refused", function()
    local res = srv:request{ path = "/probe" }
    assert.equal(200, res.status)
    local expect = {
      io = "undefined global 'io'",
      os_execute = "attempt to call field 'execute'",
      os_exit = "attempt to call field 'exit'",
      debug = "undefined global 'debug'",
      ffi = "module 'ffi' not found",
      jit = "undefined global 'jit'",
      load = "undefined global 'load'",
      loadstring = "undefined global 'loadstring'",
      dofile = "undefined global 'dofile'",
      package = "undefined global 'package'",
      getfenv = "undefined global 'getfenv'",
      string_dump = "attempt to call field 'dump'",
      string_mt = "attempt to index a boolean value",
      runtime = "internal to the host",
      pg_core = "internal to the host",
      ready_core = "internal to the host",
      new_global = "assignment to undefined global 'leaked'",
      collectgarbage = "undefined global 'collectgarbage'",
    }
    for name, msg in pairs(expect) do
      local probe = res.json[name]
      assert.truthy(probe, "no probe " .. name)
      assert.is_false(probe.ok, name .. " was allowed")
      assert.truthy(probe.err:find(msg, 1, true), name .. ": " .. probe.err)
    end
  end)

  it("runs a script's own coroutine and refuses I/O inside it", function()
    local res = srv:request{ path = "/coroutine" }
    assert.equal(200, res.status)
    assert.equal(6, res.json.sum)
    assert.is_false(res.json.io_inside.ok)
    assert.truthy(res.json.io_inside.err:find("I/O is not allowed here", 1, true),
      res.json.io_inside.err)
    assert.equal(200, srv:request{ path = "/coroutine" }.status, "the worker kept serving")
  end)

  it("stops a script that eats memory past VM_MEMORY_LIMIT_MB; the worker serves on", function()
    local small = h.start{ scripts = "spec/fixtures/scripts/sandbox",
                           env = { VM_MEMORY_LIMIT_MB = "64" } }
    local pid = small:healthz().pid
    local res = small:request{ path = "/hog", timeout_ms = 20000 }
    assert.equal(500, res.status)
    assert.equal("INTERNAL", res.json.error.code)
    assert.truthy(small:logs():find("not enough memory", 1, true), small:log_tail())
    local after = small:request{ path = "/coroutine" }
    assert.equal(200, after.status)
    assert.equal(pid, small:healthz().pid, "the same worker answered")
    small:stop()
  end)

  it("refuses to load a script that creates a global", function()
    local bad = h.start{ scripts = "spec/fixtures/scripts/sandbox_global", wait = false }
    local code = bad:wait_exit(5000)
    assert.truthy(code, "still running with a script that sets a global")
    assert.equal(1, code, "scripts refused exit 1 (README, Processes); log:\n" .. bad:logs())
    assert.truthy(bad:logs():find("assignment to undefined global 'counter'", 1, true),
      bad:logs())
  end)
end)
