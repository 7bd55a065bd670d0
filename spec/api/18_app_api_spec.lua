-- speezy.app over HTTP (README "The Lua API so far" and "Handlers"): app.use hooks run before
-- every handler, in order, and one that returns a response ends the request there; routes
-- registered through app.route, app.patch and app.options; a string body's Content-Type, the
-- default or the headers table's; repeated query keys arriving as arrays in req.query.
-- Routes: spec/fixtures/scripts/app_api (and basic's /echo for req.query).
local h = require "spec.helpers"

describe("speezy.app", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/app_api", env = { WORKERS = "1" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  describe("app.use hooks", function()
    local function handled()
      local res = srv:request{ path = "/handled" }
      assert.equal(200, res.status, res.body)
      return res.json.n
    end

    it("run before the handler, in the order they were added, on the same request", function()
      local before = handled()
      local res = srv:request{ path = "/trail" }
      assert.equal(200, res.status, res.body)
      assert.same({ "first", "second", "handler" }, res.json.trail)
      assert.equal(before + 1, handled())
    end)

    it("end the request with the answer a hook returns; the handler never runs", function()
      local before = handled()
      local res = srv:request{ path = "/trail", headers = { ["X-Stop"] = "fail" } }
      local j = h.assert_error_envelope(res, 401, "UNAUTHORIZED")
      assert.equal("stopped by a hook", j.error.message)
      assert.equal(res.headers["x-request-id"], j.requestId)

      res = srv:request{ path = "/trail", headers = { ["X-Stop"] = "text" } }
      assert.equal(418, res.status)
      assert.equal("stopped", res.body)
      assert.equal("second", res.headers["x-hook"])

      assert.equal(before, handled(), "the handler ran after a hook had answered")
    end)
  end)

  describe("app.route, app.patch and app.options", function()
    it("app.route serves a method app has no shortcut for, and names it in Allow", function()
      local res = srv:request{ method = "PURGE", path = "/cache/k1" }
      assert.equal(200, res.status, res.body)
      assert.same({ success = true, purged = "k1", method = "PURGE" }, res.json)
      local other = srv:request{ path = "/cache/k1" }
      h.assert_error_envelope(other, 405, "METHOD_NOT_ALLOWED")
      assert.equal("PURGE", other.headers.allow)
    end)

    it("app.route serves a common method like its shortcut", function()
      local res = srv:request{ path = "/routed" }
      assert.equal(200, res.status, res.body)
      assert.same({ success = true, method = "GET", route = "/routed" }, res.json)
    end)

    it("app.patch serves PATCH with its body", function()
      local res = srv:request{ method = "PATCH", path = "/items/7", body = '{"name":"new"}',
        headers = { ["Content-Type"] = "application/json" } }
      assert.equal(200, res.status, res.body)
      assert.same({ success = true, id = "7", op = "patch", patch = { name = "new" } }, res.json)
      assert.equal("get", srv:request{ path = "/items/7" }.json.op)
    end)

    it("app.options answers OPTIONS with the handler instead of the host's 204 + Allow", function()
      local res = srv:request{ method = "OPTIONS", path = "/items/7" }
      assert.equal(200, res.status, res.body)
      assert.same({ success = true, id = "7", op = "options" }, res.json)
      assert.equal("GET, PATCH", res.headers["access-control-allow-methods"])
      -- a path without an OPTIONS route gets the host's answer
      local host = srv:request{ method = "OPTIONS", path = "/routed" }
      assert.equal(204, host.status)
      assert.equal("GET, HEAD", host.headers.allow)
      assert.is_nil(host.headers["access-control-allow-methods"])
    end)
  end)

  describe("a string body", function()
    it("is sent as it is, as text/plain; charset=utf-8 by default", function()
      local res = srv:request{ path = "/text" }
      assert.equal(200, res.status)
      assert.equal("plain words", res.body)
      assert.equal("text/plain; charset=utf-8", res.headers["content-type"])
      assert.equal(tostring(#"plain words"), res.headers["content-length"])
    end)

    it("keeps the default Content-Type beside other headers of the handler", function()
      local res = srv:request{ path = "/text-with-headers" }
      assert.equal("plain words", res.body)
      assert.equal("1", res.headers["x-extra"])
      assert.equal("text/plain; charset=utf-8", res.headers["content-type"])
    end)

    it("takes the Content-Type of the headers table, whatever the case of its name", function()
      local csv = srv:request{ path = "/csv" }
      assert.equal(200, csv.status)
      assert.equal("a,b\n1,2\n", csv.body)
      assert.equal("text/csv; charset=utf-8", csv.headers["content-type"])
      local xml = srv:request{ path = "/xml" }
      assert.equal("<a/>", xml.body)
      assert.equal("application/xml", xml.headers["content-type"])
      -- one Content-Type header each, not the default beside the handler's
      for _, res in ipairs({ csv, xml }) do
        local n = 0
        for _, kv in ipairs(res.header_list) do
          if kv[1]:lower() == "content-type" then n = n + 1 end
        end
        assert.equal(1, n)
      end
    end)
  end)
end)

describe("req.query", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { WORKERS = "1" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local function query(qs)
    local res = srv:request{ method = "POST", path = "/echo?" .. qs, body = "{}" }
    assert.equal(200, res.status, res.body)
    return res.json.q
  end

  it("turns a repeated key into an array of its values, in order", function()
    assert.same({ a = { "1", "2" }, b = "3" }, query("a=1&a=2&b=3"))
    assert.same({ k = { "x", "y", "z" } }, query("k=x&k=y&k=z"))
    assert.same({ t = { "a b", "c d", "é" } }, query("t=a%20b&t=c+d&t=%C3%A9"))
    assert.same({ e = { "", "" } }, query("e=&e"))
  end)
end)
