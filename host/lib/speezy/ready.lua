-- speezy.ready — GET /readyz: can this worker reach PostgreSQL and Redis right now?
-- 200 when both answer; 503 naming each dependency that does not. /healthz stays liveness.
local pg = require "speezy.pg"
local redis = require "speezy.redis"
local core = require "speezy.core"
local app = require "speezy.app"

local M = {}

local function probe(fn)
  local t0 = core.monotonic_ms()
  local ok, err = fn()
  local ms = math.floor((core.monotonic_ms() - t0) * 1000 + 0.5) / 1000
  if ok then return { status = "up", latencyMs = ms } end
  return { status = "down", error = err and err.code or "UNAVAILABLE" }
end

function M.check()
  local checks = {
    postgres = probe(function()
      local rows, err = pg.query("SELECT 1 AS ok")
      return rows ~= nil, err
    end),
    redis = probe(function()
      local pong, err = redis.call("PING")
      return pong == "PONG", err
    end),
  }
  local down = {}
  for name, c in pairs(checks) do
    if c.status ~= "up" then down[#down + 1] = name end
  end
  table.sort(down)
  if #down == 0 then return 200, { status = "ready", checks = checks } end
  return app.fail(503, "NOT_READY", "unavailable: " .. table.concat(down, ", "), checks)
end

return M
