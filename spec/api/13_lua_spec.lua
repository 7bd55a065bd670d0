-- Lua handlers (issue #2, "Lua handlers"): the request object, req:json() with malformed input,
-- errors raised in handlers, and the yield/resume path (200 concurrent 200 ms sleeps on one
-- worker finish in about a second).
local h = require "spec.helpers"

describe("Lua handlers", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { WORKERS = "1" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("gives the handler method, path, decoded query, headers, raw body, json and ip", function()
    local body = '{"n":1,"s":"x","arr":[1,2]}'
    local res = srv:request{ method = "POST", path = "/echo?a=1&b=hello%20world&c=%C3%A9",
      headers = { ["X-Thing"] = "yes", ["Content-Type"] = "application/json" }, body = body }
    assert.equal(200, res.status)
    local j = res.json
    assert.is_true(j.success)
    assert.equal("POST", j.method)
    assert.equal("/echo", j.path)
    assert.same({ a = "1", b = "hello world", c = "é" }, j.q)
    assert.equal("yes", j.h)
    assert.equal(body, j.raw)
    assert.same({ n = 1, s = "x", arr = { 1, 2 } }, j.got)
    assert.equal("127.0.0.1", j.ip)
  end)

  it("refuses to read a kept request's fields once another request runs", function()
    assert.equal("/keep", srv:request{ path = "/keep" }.json.route)
    local res = srv:request{ path = "/kept" }
    assert.equal(200, res.status)
    assert.is_false(res.json.ok)
    assert.matches("req.path: read only from the request's own handler", res.json.err, 1, true)
    assert.equal("/kept", res.json.path)
    assert.equal("/kept", res.json.route)
    assert.equal(res.headers["x-request-id"], res.json.id)
  end)

  it("lets a handler read its request from a coroutine of its own", function()
    local res = srv:request{ path = "/gen", headers = { ["X-Thing"] = "gen" } }
    assert.equal(200, res.status)
    assert.equal("/gen", res.json.path)
    assert.equal("gen", res.json.h)
  end)

  it("looks request headers up case-insensitively", function()
    local res = srv:request{ method = "POST", path = "/echo", headers = { ["x-THING"] = "v" },
      body = "{}" }
    assert.equal("v", res.json.h)
    assert.equal("v", res.json.h_mixed)
  end)

  it("fills path params from the route template", function()
    assert.equal("42", srv:request{ path = "/stores/42" }.json.id)
    assert.equal("abc-def", srv:request{ path = "/stores/abc-def" }.json.id)
    assert.equal("a b/é", srv:request{ path = "/stores/a%20b%2F%C3%A9" }.json.id)
    assert.equal("100%+", srv:request{ path = "/stores/100%+" }.json.id)
    local long = ("%41"):rep(300)
    assert.equal(("A"):rep(300), srv:request{ path = "/stores/" .. long }.json.id)
    assert.equal(404, srv:request{ path = "/stores/1/extra" }.status)
  end)

  it("answers 400 INVALID_JSON to a malformed body given to req:json()", function()
    for _, body in ipairs({ "{not json", '{"a":', "\255\254", "" }) do
      local res = srv:request{ method = "POST", path = "/echo", body = body }
      local j = h.assert_error_envelope(res, 400, "INVALID_JSON")
      assert.equal(res.headers["x-request-id"], j.requestId)
    end
  end)

  it("answers 500 INTERNAL with the request id when a handler raises", function()
    local workers = srv:workers()
    local res = srv:request{ path = "/boom" }
    local j = h.assert_error_envelope(res, 500, "INTERNAL")
    local rid = res.headers["x-request-id"]
    assert.truthy(rid, "no X-Request-Id")
    assert.equal(rid, j.requestId)
    -- the traceback goes to the log on an error line of its own, with file:line and the
    -- request id (the access line carries the id too: it proves nothing here)
    local line = h.eventually(function()
      for _, l in ipairs(srv:log_lines()) do
        if l.level == "error" and tostring(l.msg):find("kaboom", 1, true) then return l end
      end
    end, 3000)
    assert.truthy(line, "no error line with the traceback:\n" .. srv:log_tail())
    assert.matches("app%.lua:%d+: kaboom", line.msg)
    assert.truthy(line.msg:find("stack traceback", 1, true), line.msg)
    assert.equal(rid, line.reqId, "the error line does not carry the request id")
    -- same worker, still serving
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.same(workers, srv:workers())
  end)

  it("runs 200 concurrent 200 ms sleeps on one worker in about a second", function()
    local conns = {}
    local t0 = h.now_ms()
    for i = 1, 200 do
      conns[i] = srv:connect()
      conns[i]:send(h.format_request{ path = "/sleep/200" })
    end
    local ok = 0
    for i = 1, 200 do
      local res = conns[i]:read_response{ timeout_ms = 5000 }
      if res and res.status == 200 and res.json.slept == 200 then ok = ok + 1 end
      conns[i]:close()
    end
    local took = h.now_ms() - t0
    assert.equal(200, ok)
    assert.is_true(took < 1200, ("took %d ms"):format(took))
  end)
end)
