-- Timeouts of issue #2: slow headers (slowloris), slow bodies, idle keep-alive connections and
-- the per-request handler deadline (504 TIMEOUT). Timeouts are short here so the spec is fast.
local h = require "spec.helpers"

-- README: "slow clients get 408". What came before the close must be exactly one 408
-- REQUEST_TIMEOUT envelope: a silent close fails.
local function assert_408(conn)
  local rest = conn.src.buf
  assert(rest ~= "", "closed without a 408")
  local list = h.parse_responses(rest)
  assert(list[1], "garbage before close: " .. rest:sub(1, 200))
  h.assert_error_envelope(list[1], 408, "REQUEST_TIMEOUT")
  assert(#list == 1 and not list.error, "more than the 408 before close: " .. rest:sub(1, 300))
end

-- Sends piece every step_ms until the server closes; returns the ms it took, or nil.
local function drip_until_closed(conn, piece, step_ms, max_ms)
  local t0 = h.now_ms()
  while h.now_ms() - t0 < max_ms do
    if not conn:send(piece) then break end
    if conn:closed(step_ms) then break end
  end
  if conn.src.eof or conn:closed(100) then return h.now_ms() - t0 end
  return nil
end

describe("timeouts", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = {
      HEADER_TIMEOUT_MS = "500", BODY_TIMEOUT_MS = "500", KEEPALIVE_TIMEOUT_MS = "700",
      REQUEST_TIMEOUT_MS = "500" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("answers 408 and closes a connection whose headers trickle in (slowloris)", function()
    local conn = srv:connect()
    conn:send("GET /hello HTTP/1.1\r\nHost: x\r\n")
    -- a header line every 100 ms keeps bytes flowing; only a total deadline stops it
    local took = drip_until_closed(conn, "X-A: b\r\n", 100, 4000)
    assert.truthy(took, "still open after 4 s of dripping headers")
    assert.is_true(took < 1500, ("closed only after %d ms"):format(took))
    assert_408(conn)
    conn:close()
  end)

  it("closes a connection that never sends a byte", function()
    local conn = srv:connect()
    assert.is_true(conn:closed(2500), "silent connection left open")
    conn:close()
  end)

  it("answers 408 and closes a connection whose body stops halfway", function()
    local conn = srv:connect()
    local t0 = h.now_ms()
    conn:send("POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    assert.is_true(conn:closed(2500), "half body left open")
    assert.is_true(h.now_ms() - t0 < 1500)
    assert_408(conn)
    conn:close()
  end)

  it("answers 408 and closes a connection whose body trickles in", function()
    local conn = srv:connect()
    conn:send("POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    local took = drip_until_closed(conn, "x", 100, 4000)
    assert.truthy(took, "still open after 4 s of dripping body")
    assert.is_true(took < 1500, ("closed only after %d ms"):format(took))
    assert_408(conn)
    conn:close()
  end)

  it("keeps an idle keep-alive connection within the timeout, closes it after", function()
    local conn = srv:connect()
    conn:send(h.format_request{ path = "/hello" })
    assert.equal(200, conn:read_response().status)
    h.sleep(400)
    conn:send(h.format_request{ path = "/hello" })
    assert.equal(200, assert(conn:read_response()).status)
    assert.is_false(conn:closed(400), "closed before KEEPALIVE_TIMEOUT_MS")
    assert.is_true(conn:closed(1500), "idle connection left open")
    assert.equal("", conn.src.buf)
    conn:close()
  end)

  it("answers 504 TIMEOUT when a handler passes REQUEST_TIMEOUT_MS", function()
    local t0 = h.now_ms()
    local res = srv:request{ path = "/sleep/2000" }
    local took = h.now_ms() - t0
    local j = h.assert_error_envelope(res, 504, "TIMEOUT")
    assert.equal(res.headers["x-request-id"], j.requestId)
    assert.is_true(took >= 450 and took < 1500, ("answered after %d ms"):format(took))
  end)

  it("keeps the connection and the worker serving after a 504", function()
    local conn = srv:connect()
    conn:send(h.format_request{ path = "/sleep/1000" })
    assert.equal(504, assert(conn:read_response()).status)
    conn:send(h.format_request{ path = "/hello" })
    assert.equal(200, assert(conn:read_response()).status)
    conn:close()
    -- past the abandoned sleep's timer: it must never resume the cancelled coroutine
    h.sleep(800)
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.is_nil(srv:exited())
  end)
end)
