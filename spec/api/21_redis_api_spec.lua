-- Redis through the real binary (issue #3): binary-safe values both ways over HTTP, EVAL after
-- SCRIPT FLUSH and after a restart, fail-fast 503 REDIS_UNAVAILABLE while Redis is down (routes
-- without Redis keep answering), and a Redis restart in the middle of a load run.
-- Routes: spec/fixtures/scripts/data.
local h = require "spec.helpers"

local SCRIPTS = "spec/fixtures/scripts/data"

local seq = 0
local function key(prefix)
  seq = seq + 1
  return ("%s-%d-%d"):format(prefix, os.time(), seq)
end

local function incr(srv, k, timeout_ms)
  return srv:request{ method = "POST", path = "/redis/incr/" .. k, timeout_ms = timeout_ms }
end

local function eval(srv, k, by)
  return srv:request{ method = "POST", path = "/redis/eval/" .. k .. "?by=" .. by }
end

local function wait_redis_back(srv)
  return h.eventually(function()
    return incr(srv, key("probe"), 5000).status == 200
  end, 20000, 200)
end

describe("redis over HTTP", function()
  local srv

  setup(function()
    -- a long command timeout, so failing fast while Redis is down can't be the timeout
    srv = h.start{ scripts = SCRIPTS, env = { REDIS_TIMEOUT_MS = "10000" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("round-trips every byte value through redis.call", function()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    -- every byte, twice, plus what would confuse a RESP writer that isn't length-prefixed
    local value = table.concat(bytes) .. table.concat(bytes) .. "\r\n$3\r\nfoo\r\n*1\r\n\0"
    local k = key("bin")
    local put = srv:request{ method = "PUT", path = "/redis/raw/" .. k, body = value,
      headers = { ["Content-Type"] = "application/octet-stream" } }
    assert.equal(200, put.status, put.body)
    assert.equal("OK", put.json.stored)
    assert.equal(#value, put.json.len)
    local got = srv:request{ path = "/redis/raw/" .. k }
    assert.equal(200, got.status)
    assert.equal("application/octet-stream", got.headers["content-type"])
    assert.equal(#value, #got.body)
    assert.is_true(value == got.body, "the value came back changed")
    -- an empty value is a value, not a missing key
    local empty = key("empty")
    local put_empty = srv:request{ method = "PUT", path = "/redis/raw/" .. empty, body = "" }
    assert.equal(0, put_empty.json.len)
    local e = srv:request{ path = "/redis/raw/" .. empty }
    assert.equal(200, e.status)
    assert.equal("", e.body)
    h.assert_error_envelope(srv:request{ path = "/redis/raw/" .. key("none") }, 404, "NOT_FOUND")
  end)

  it("runs redis.eval, also after SCRIPT FLUSH", function()
    local k = key("eval")
    local r1 = eval(srv, k, 5)
    assert.equal(200, r1.status, r1.body)
    assert.same({ key = k, n = 5 }, { key = r1.json.key, n = r1.json.n })
    assert.equal(10, eval(srv, k, 5).json.n)
    local flush = srv:request{ method = "POST", path = "/redis/script-flush" }
    assert.equal(200, flush.status, flush.body)
    assert.equal("OK", flush.json.flushed)
    local r3 = eval(srv, k, 5)
    assert.equal(200, r3.status, r3.body)
    assert.equal(15, r3.json.n)
    assert.equal(16, eval(srv, k, 1).json.n)
  end)

  it("fails fast with 503 REDIS_UNAVAILABLE while Redis is down, then recovers", function()
    local servers = h.servers()
    servers.stop_redis()
    finally(function() servers.start_redis() end)
    for _ = 1, 3 do
      local t0 = h.now_ms()
      local res = incr(srv, key("down"), 15000)
      h.assert_error_envelope(res, 503, "REDIS_UNAVAILABLE")
      assert.is_true(h.now_ms() - t0 < 3000,
        ("the 503 took %d ms (REDIS_TIMEOUT_MS is 10 s)"):format(h.now_ms() - t0))
    end
    -- routes that don't need Redis keep answering
    assert.equal(200, srv:request{ path = "/hello" }.status)
    assert.equal(200, srv:request{ path = "/pg/ping" }.status)
    servers.start_redis()
    assert.truthy(wait_redis_back(srv), "redis route did not recover after Redis came back")
  end)

  it("survives a Redis restart in the middle of a load run", function()
    local script = h.wrk_status_script{ method = "POST" }
    local load = h.wrk_start{ port = srv.port, path = "/redis/incr/" .. key("load"),
      connections = 4, duration_s = 6, timeout_s = 5, script = script }
    local side = h.wrk_start{ port = srv.port, path = "/pg/ping", connections = 2,
      duration_s = 6, timeout_s = 5 }
    h.sleep(1500)
    h.servers().restart_redis()
    local r, rs = load:wait(30000), side:wait(30000)
    local t = h.tally_statuses(r)
    assert.is_true(r.ok, r.output)
    assert.equal(0, r.errors, "socket errors (resets/timeouts) on the redis route:\n" .. r.output)
    for k in pairs(t) do
      assert.is_true(k == "200" or k == "503 REDIS_UNAVAILABLE",
        "unexpected answer '" .. k .. "' on the redis route:\n" .. r.output)
    end
    assert.is_true((t["200"] or 0) > 0, r.output)
    -- a route that needs only PostgreSQL answered 200 throughout
    assert.is_true(rs.ok, rs.output)
    assert.equal(0, rs.errors, rs.output)
    assert.equal(0, rs.non2xx, rs.output)
    assert.truthy(wait_redis_back(srv), "redis route did not recover after the restart")
    -- the restarted server has an empty script cache: EVALSHA misses, EVAL reloads it
    local k = key("eval-after-restart")
    assert.equal(3, eval(srv, k, 3).json.n)
    assert.equal(6, eval(srv, k, 3).json.n)
    assert.is_nil(srv:exited())
  end)
end)
