-- HTTP/1.1 protocol behaviour of the real binary (issue #2, "HTTP/1.1 server"): keep-alive,
-- pipelining in order, Content-Length and chunked bodies, HEAD, Expect: 100-continue, and the
-- Date / Content-Length / Connection / X-Request-Id headers.
local h = require "spec.helpers"

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
  Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Seconds since the epoch of an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), or nil.
local function parse_http_date(s)
  local d, mon, y, hh, mm, ss = s:match(
    "^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  -- days from civil (proleptic Gregorian), so the local time zone never matters
  local yy, m = tonumber(y), MONTHS[mon]
  if m <= 2 then yy = yy - 1 end
  local era = math.floor(yy / 400)
  local yoe = yy - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
end

describe("HTTP/1.1", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic" }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("serves a Lua route in the success envelope", function()
    local res = srv:request{ path = "/hello" }
    assert.equal(200, res.status)
    assert.same({ success = true, message = "hello" }, res.json)
    assert.matches("^application/json", res.headers["content-type"])
  end)

  it("keeps an HTTP/1.1 connection open across requests", function()
    local conn = srv:connect()
    for i = 1, 5 do
      assert.truthy(conn:send(h.format_request{ path = "/stores/" .. i }))
      local res = assert(conn:read_response())
      assert.equal(200, res.status)
      assert.equal(tostring(i), res.json.id)
      assert.not_equal("close", (res.headers.connection or ""):lower())
    end
    assert.is_false(conn:closed(100))
    conn:close()
  end)

  it("answers pipelined requests in request order", function()
    local conn = srv:connect()
    -- the first request is the slowest: a server answering out of order would put it last
    conn:send(h.format_request{ path = "/sleep/150" } .. h.format_request{ path = "/hello" }
      .. h.format_request{ path = "/stores/7" } .. h.format_request{ path = "/missing" })
    local r1, r2, r3, r4 = conn:read_response(), conn:read_response(), conn:read_response(),
      conn:read_response()
    conn:close()
    assert.equal(150, r1.json.slept)
    assert.equal("hello", r2.json.message)
    assert.equal("7", r3.json.id)
    assert.equal(404, r4.status)
    local ids = {}
    for _, r in ipairs({ r1, r2, r3, r4 }) do ids[r.headers["x-request-id"]] = true end
    local n = 0
    for _ in pairs(ids) do n = n + 1 end
    assert.equal(4, n)
  end)

  it("handles a pipelined request split across packets", function()
    local two = h.format_request{ path = "/stores/1" } .. h.format_request{ path = "/stores/2" }
    local conn = srv:connect()
    conn:send_slowly(two, 7, 5)
    assert.equal("1", conn:read_response().json.id)
    assert.equal("2", conn:read_response().json.id)
    conn:close()
  end)

  it("reads a Content-Length body", function()
    local res = srv:request{ method = "POST", path = "/raw", body = "hello world" }
    assert.equal(200, res.status)
    assert.equal("hello world", res.json.raw)
    assert.equal(11, res.json.len)
  end)

  it("reads an empty POST body", function()
    local res = srv:request{ method = "POST", path = "/raw", body = "" }
    assert.equal(200, res.status)
    assert.equal(0, res.json.len)
  end)

  it("reads every byte value of a body", function()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    local res = srv:request{ method = "POST", path = "/raw", body = table.concat(bytes) }
    assert.equal(200, res.status)
    assert.equal(256, res.json.len)
  end)

  it("reads a chunked body sent in pieces", function()
    local conn = srv:connect()
    conn:send("POST /raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    conn:send_slowly("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 4, 10)
    local res = assert(conn:read_response())
    conn:close()
    assert.equal(200, res.status)
    assert.equal("hello world", res.json.raw)
  end)

  it("reads a chunked body with chunk extensions and trailers", function()
    local res = srv:request{ method = "POST", path = "/raw",
      headers = { ["Transfer-Encoding"] = "chunked" },
      body = "3;name=value\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n" }
    assert.equal(200, res.status)
    assert.equal("abc0123456789", res.json.raw)
  end)

  it("answers HEAD with the GET's headers and no body", function()
    local conn = srv:connect()
    -- a GET right behind the HEAD on the same connection: any stray HEAD body would
    -- corrupt its response
    conn:send(h.format_request{ method = "HEAD", path = "/hello" }
      .. h.format_request{ path = "/hello" })
    local head = assert(conn:read_response{ head = true })
    local get = assert(conn:read_response())
    assert.is_false(conn:closed(200))
    assert.equal("", conn.src.buf)
    conn:close()
    assert.equal(200, head.status)
    assert.equal(get.headers["content-length"], head.headers["content-length"])
    assert.equal(#get.body, tonumber(head.headers["content-length"]))
    assert.same({ success = true, message = "hello" }, get.json)
  end)

  it("sends 100 Continue before reading a body when asked", function()
    local conn = srv:connect()
    conn:send("POST /raw HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    local interim = assert(conn:read_response{ timeout_ms = 2000 })
    assert.equal(100, interim.status)
    conn:send("abcde")
    local res = assert(conn:read_response())
    conn:close()
    assert.equal(200, res.status)
    assert.equal("abcde", res.json.raw)
  end)

  it("sends a current Date in IMF-fixdate format", function()
    local res = srv:request{ path = "/hello" }
    local date = assert(res.headers.date, "no Date header")
    local t = parse_http_date(date)
    assert.truthy(t, "bad Date: " .. date)
    assert.is_true(math.abs(t - os.time()) <= 5, "Date is off: " .. date)
  end)

  it("sends a Content-Length equal to the body, also for large bodies", function()
    for _, path in ipairs({ "/hello", "/big", "/nope" }) do
      local res = srv:request{ path = path }
      assert.equal(#res.body, tonumber(res.headers["content-length"]), path)
    end
    local big = srv:request{ path = "/big" }
    assert.equal(200000, #big.json.data)
  end)

  it("returns an X-Request-Id, echoing a well-formed one from the client", function()
    local a = srv:request{ path = "/hello" }
    local b = srv:request{ path = "/hello" }
    assert.truthy(a.headers["x-request-id"])
    assert.not_equal(a.headers["x-request-id"], b.headers["x-request-id"])
    local c = srv:request{ path = "/hello", headers = { ["X-Request-Id"] = "client-id-123" } }
    assert.equal("client-id-123", c.headers["x-request-id"])
  end)

  it("closes after the response when the client sends Connection: close", function()
    local conn = srv:connect()
    conn:send(h.format_request{ path = "/hello", headers = { Connection = "close" } })
    local res = assert(conn:read_response())
    assert.equal(200, res.status)
    assert.equal("close", (res.headers.connection or ""):lower())
    assert.is_true(conn:closed(1000))
    conn:close()
  end)

  it("closes an HTTP/1.0 connection after the response", function()
    local raw, closed = srv:raw("GET /hello HTTP/1.0\r\n\r\n", { wait_ms = 2000 })
    assert.is_true(closed)
    local list = h.parse_responses(raw)
    assert.equal(1, #list)
    assert.equal(200, list[1].status)
    assert.equal("hello", list[1].json.message)
    local conn = list[1].headers.connection
    assert.is_true(conn == nil or conn:lower() == "close")
  end)
end)
