-- GET /readyz (issue #3): 200 while PostgreSQL and Redis both answer, 503 NOT_READY naming
-- the one that is down, while GET /healthz (liveness) stays 200. A hung server (frozen with
-- SIGSTOP: connected, answering nothing) is reported within READYZ_TIMEOUT_MS, both pings
-- running at once. Each server stopped or frozen here is started or thawed again before the
-- test ends, so later specs find it running.
local h = require "spec.helpers"

-- Small so the frozen cases stay fast; an answer must come within it plus generous slack.
-- REDIS_TIMEOUT_MS stays longer than that bound: the answer must not wait for it.
local READYZ_TIMEOUT_MS = 300
local BOUND_MS = READYZ_TIMEOUT_MS + 1500

local function readyz(srv)
  return srv:request{ path = "/readyz", timeout_ms = 15000 }
end

local function wait_ready(srv)
  return h.eventually(function() return readyz(srv).status == 200 end, 20000, 200)
end

-- The 503 envelope of /readyz with `down` (a list) down and the rest up.
local function assert_not_ready(res, down)
  local j = h.assert_error_envelope(res, 503, "NOT_READY")
  local details = j.error.details
  assert.is_table(details, "no per-dependency details: " .. res.body)
  local is_down = {}
  for _, name in ipairs(down) do
    is_down[name] = true
    assert.truthy(j.error.message:find(name, 1, true),
      "the message does not name " .. name .. ": " .. res.body)
    assert.equal("down", details[name].status, res.body)
  end
  for _, name in ipairs({ "postgres", "redis" }) do
    if not is_down[name] then
      assert.equal("up", details[name].status, res.body)
      assert.falsy(j.error.message:find(name, 1, true), name .. " named but up: " .. res.body)
    end
  end
end

-- /readyz with one or both servers frozen: one answer within BOUND_MS, the frozen ones down
-- with TIMEOUT.
local function assert_bounded_not_ready(srv, frozen)
  local t0 = h.now_ms()
  local res = srv:request{ path = "/readyz", timeout_ms = BOUND_MS }
  local elapsed = h.now_ms() - t0
  assert.truthy(elapsed < BOUND_MS, ("answered after %d ms"):format(elapsed))
  assert_not_ready(res, frozen)
  for _, name in ipairs(frozen) do
    assert.equal("TIMEOUT", res.json.error.details[name].error, res.body)
  end
end

local function assert_live(srv)
  local res = srv:request{ path = "/healthz" }
  assert.equal(200, res.status, res.body)
  assert.is_true(res.json.success)
end

describe("GET /readyz", function()
  local srv, servers

  setup(function()
    servers = h.servers()
    srv = h.start{ scripts = "spec/fixtures/scripts/data", env = { PG_POOL_WAIT_MS = "1000",
      REDIS_TIMEOUT_MS = "5000", READYZ_TIMEOUT_MS = tostring(READYZ_TIMEOUT_MS) } }
    -- the pool opens its first connection in the background, slower under the sanitizers
    assert(h.eventually(function() return readyz(srv).status == 200 end, 20000, 200),
      "never ready: " .. srv:log_tail())
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("answers 200 with both dependencies up", function()
    local res = readyz(srv)
    assert.equal(200, res.status, res.body)
    local j = res.json
    assert.is_true(j.success)
    assert.equal("ready", j.status)
    assert.equal("up", j.checks.postgres.status)
    assert.equal("up", j.checks.redis.status)
    assert.is_number(j.checks.postgres.latencyMs)
    assert.is_number(j.checks.redis.latencyMs)
  end)

  it("answers 503 naming postgres while PostgreSQL is stopped; /healthz stays 200", function()
    servers.stop_pg()
    finally(function() servers.start_pg() end)
    assert_not_ready(readyz(srv), { "postgres" })
    assert_live(srv)
    assert_not_ready(readyz(srv), { "postgres" })
    servers.start_pg()
    assert.truthy(wait_ready(srv), "/readyz did not come back after PostgreSQL started")
    assert_live(srv)
  end)

  it("answers 503 naming redis while Redis is stopped; /healthz stays 200", function()
    servers.stop_redis()
    finally(function() servers.start_redis() end)
    assert_not_ready(readyz(srv), { "redis" })
    assert_live(srv)
    servers.start_redis()
    assert.truthy(wait_ready(srv), "/readyz did not come back after Redis started")
  end)

  it("names both when both are stopped", function()
    servers.stop_pg()
    servers.stop_redis()
    finally(function()
      servers.start_pg()
      servers.start_redis()
    end)
    assert_not_ready(readyz(srv), { "postgres", "redis" })
    assert_live(srv)
    servers.start_pg()
    servers.start_redis()
    assert.truthy(wait_ready(srv), "/readyz did not come back after both started")
  end)

  it("answers 503 naming postgres within the bound while PostgreSQL hangs", function()
    servers.freeze_pg()
    finally(function() servers.thaw_pg() end)
    assert_bounded_not_ready(srv, { "postgres" })
    assert_live(srv)
    assert_bounded_not_ready(srv, { "postgres" })
    servers.thaw_pg()
    assert.truthy(wait_ready(srv), "/readyz did not come back after PostgreSQL resumed")
  end)

  it("answers 503 naming redis within the bound while Redis hangs", function()
    servers.freeze_redis()
    finally(function() servers.thaw_redis() end)
    assert_bounded_not_ready(srv, { "redis" })
    assert_live(srv)
    servers.thaw_redis()
    assert.truthy(wait_ready(srv), "/readyz did not come back after Redis resumed")
  end)

  it("names both in one answer within the bound when both hang", function()
    servers.freeze_pg()
    servers.freeze_redis()
    finally(function()
      servers.thaw_pg()
      servers.thaw_redis()
    end)
    assert_bounded_not_ready(srv, { "postgres", "redis" })
    assert_live(srv)
    servers.thaw_pg()
    servers.thaw_redis()
    assert.truthy(wait_ready(srv), "/readyz did not come back after both resumed")
  end)
end)
