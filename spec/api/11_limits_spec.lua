-- Every limit of issue #2 answers with the JSON error envelope and the right status: 431
-- header section, 413 body (default 1 MiB, BODY_LIMIT), 414 URL, 400 malformed (then close),
-- 404 NOT_FOUND, 405 with Allow, and MAX_CONNECTIONS.
local h = require "spec.helpers"

local function envelope_from_raw(raw)
  local list = h.parse_responses(raw)
  assert(list[1], "no response; got: " .. raw:sub(1, 200))
  return list[1], list
end

describe("limits with the defaults", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic",
      env = { MAX_HEADER_BYTES = "4096", MAX_URL_BYTES = "1024" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("answers 431 to one oversized header", function()
    local res = srv:request{ path = "/hello", headers = { ["X-Big"] = string.rep("a", 6000) } }
    h.assert_error_envelope(res, 431)
  end)

  it("answers 431 to many headers that add up past the limit", function()
    local hdrs = {}
    for i = 1, 100 do hdrs[#hdrs + 1] = { "X-H" .. i, string.rep("b", 60) } end
    local res = srv:request{ path = "/hello", headers = hdrs }
    h.assert_error_envelope(res, 431)
  end)

  it("answers 414 to a URL over MAX_URL_BYTES", function()
    local res = srv:request{ path = "/hello?x=" .. string.rep("u", 1100) }
    h.assert_error_envelope(res, 414)
  end)

  it("accepts a URL just under MAX_URL_BYTES", function()
    local res = srv:request{ path = "/hello?x=" .. string.rep("u", 900) }
    assert.equal(200, res.status)
  end)

  it("answers 413 from the Content-Length alone, before any body arrives", function()
    local conn = srv:connect()
    conn:send("POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n")
    local res = assert(conn:read_response{ timeout_ms = 2000 })
    conn:close()
    h.assert_error_envelope(res, 413)
  end)

  it("accepts a body of exactly 1 MiB by default", function()
    local res = srv:request{ method = "POST", path = "/raw", body = string.rep("z", 1048576),
      timeout_ms = 10000 }
    assert.equal(200, res.status)
    assert.equal(1048576, res.json.len)
  end)

  it("answers 413 instead of 100 Continue when the announced body is too large", function()
    local conn = srv:connect()
    conn:send("POST /raw HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      .. "Content-Length: 2000000\r\n\r\n")
    local res = assert(conn:read_response{ timeout_ms = 2000 })
    conn:close()
    h.assert_error_envelope(res, 413)
  end)

  local malformed = {
    { "a garbage request line", "GARBAGE\r\n\r\n" },
    { "a header line without a colon", "GET /hello HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n" },
    { "a non-numeric Content-Length",
      "POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n" },
    { "a bad chunk size", "POST /raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "zz\r\nhello\r\n0\r\n\r\n" },
    { "both Content-Length and chunked", "POST /raw HTTP/1.1\r\nHost: x\r\n"
      .. "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
    { "a NUL in a header value", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n" },
  }
  for _, case in ipairs(malformed) do
    local name, bytes = case[1], case[2]
    it("answers 400 and closes on " .. name, function()
      local raw, closed = srv:raw(bytes, { wait_ms = 2000 })
      local res = envelope_from_raw(raw)
      h.assert_error_envelope(res, 400)
      assert.is_true(closed, "connection left open")
    end)
  end

  it("does not answer requests pipelined behind a malformed one", function()
    local raw, closed = srv:raw("GARBAGE\r\n\r\n" .. h.format_request{ path = "/hello" },
      { wait_ms = 2000 })
    local res, list = envelope_from_raw(raw)
    h.assert_error_envelope(res, 400)
    assert.equal(1, #list)
    assert.is_true(closed)
  end)

  it("answers 404 NOT_FOUND to an unknown route, with the request id", function()
    local res = srv:request{ path = "/nope" }
    local j = h.assert_error_envelope(res, 404, "NOT_FOUND")
    assert.equal(res.headers["x-request-id"], j.requestId)
  end)

  it("passes app.fail envelopes from a handler through", function()
    local res = srv:request{ path = "/missing" }
    local j = h.assert_error_envelope(res, 404, "NOT_FOUND")
    assert.equal("store not found", j.error.message)
  end)

  it("answers 405 with Allow to a method the path does not have", function()
    local res = srv:request{ path = "/items/1" }
    h.assert_error_envelope(res, 405)
    local allow = assert(res.headers.allow, "no Allow header")
    assert.truthy(allow:find("PUT", 1, true), allow)
    assert.truthy(allow:find("DELETE", 1, true), allow)
    assert.falsy(allow:find("GET", 1, true), allow)
    res = srv:request{ method = "POST", path = "/hello", body = "{}" }
    h.assert_error_envelope(res, 405)
    assert.truthy((res.headers.allow or ""):find("GET", 1, true))
  end)

  it("keeps serving after every limit above", function()
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.is_nil(srv:exited())
  end)
end)

-- A chunked body of chunks of the given sizes, then the last (empty) chunk.
local function chunked(sizes)
  local parts = {}
  for i, n in ipairs(sizes) do
    parts[#parts + 1] = ("%x\r\n%s\r\n"):format(n, string.rep(string.char(96 + i), n))
  end
  return table.concat(parts) .. "0\r\n\r\n"
end

describe("limits from the environment", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic",
      env = { BODY_LIMIT = "1000", MAX_CONNECTIONS = "4" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  -- BODY_LIMIT is 1000: exactly the limit is accepted, one byte more is refused, on both
  -- paths (Content-Length is checked from the header, a chunked body as it arrives).
  it("accepts a Content-Length body of exactly BODY_LIMIT, refuses one byte more", function()
    local ok = srv:request{ method = "POST", path = "/raw", body = string.rep("a", 1000) }
    assert.equal(200, ok.status)
    assert.equal(1000, ok.json.len)
    local res = srv:request{ method = "POST", path = "/raw", body = string.rep("a", 1001) }
    h.assert_error_envelope(res, 413, "PAYLOAD_TOO_LARGE")
  end)

  it("accepts a chunked body of exactly BODY_LIMIT, refuses one byte more", function()
    local ok = srv:request{ method = "POST", path = "/raw",
      headers = { ["Transfer-Encoding"] = "chunked" }, body = chunked({ 500, 500 }) }
    assert.equal(200, ok.status, ok.body)
    assert.equal(1000, ok.json.len)
    -- the extra byte in a chunk of its own, and inside the last chunk
    for _, sizes in ipairs({ { 500, 500, 1 }, { 500, 501 } }) do
      local res = srv:request{ method = "POST", path = "/raw",
        headers = { ["Transfer-Encoding"] = "chunked" }, body = chunked(sizes) }
      h.assert_error_envelope(res, 413, "PAYLOAD_TOO_LARGE")
    end
  end)

  it("refuses connections past MAX_CONNECTIONS and accepts again when one closes", function()
    local held = {}
    for i = 1, 4 do
      held[i] = srv:connect()
      held[i]:send(h.format_request{ path = "/hello" })
      assert.equal(200, assert(held[i]:read_response()).status)
    end
    local extra = srv:connect()
    extra:send(h.format_request{ path = "/hello" })
    local res = extra:read_response{ timeout_ms = 2000 }
    assert.truthy(res, "the 5th connection got no answer")
    h.assert_error_envelope(res, 503)
    assert.is_true(extra:closed(1000))
    extra:close()
    held[1]:close()
    local after = h.eventually(function()
      local ok, r = pcall(srv.request, srv, { path = "/hello", timeout_ms = 1000 })
      return ok and r.status == 200
    end, 3000)
    for i = 2, 4 do held[i]:close() end
    assert.is_true(after)
  end)
end)

-- A client that pipelines requests and never reads must not make the server queue responses
-- without bound: past a backlog the server stops parsing (and reading) until it drains.
describe("write backlog", function()
  it("bounds the memory a non-reading pipelining client can pin, then serves it all", function()
    local srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { LOG_LEVEL = "warn" },
      release = "bounds the worker's RSS, of which ASan's shadow memory and quarantine are part" }
    local worker = srv:workers()[1]
    local conn = srv:connect()
    local req = h.format_request{ path = "/hello" }
    local all = req:rep(300000)
    local off, deadline = 0, h.now_ms() + 3000
    conn.sock:settimeout(0.05)
    while off < #all and h.now_ms() < deadline do
      local n, _, partial = conn.sock:send(all, off + 1, math.min(off + 65536, #all))
      off = n or partial or off
    end
    local sent = math.floor(off / #req)
    local status = h.read_file("/proc/" .. worker .. "/status")
    local rss_kb = tonumber(status:match("VmRSS:%s+(%d+)"))
    assert.truthy(sent > 20000, "only " .. sent .. " requests could be sent")
    -- unbounded, the ~300k responses of ~200 bytes would pin 60 MB
    assert.truthy(rss_kb < 16 * 1024, "worker RSS " .. rss_kb .. " kB with " .. sent .. " sent")
    conn:close()
    assert.equal(200, srv:request{ path = "/hello" }.status, "the worker serves on")
    srv:stop()
  end)
end)
