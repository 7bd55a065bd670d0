-- speezy.ready — GET /readyz: can this worker reach PostgreSQL and Redis right now?
-- 200 when both answer; 503 naming each dependency that does not. /healthz stays liveness.
-- Both are pinged at once and the answer comes within READYZ_TIMEOUT_MS (bind_ready.c), so a
-- hung server makes a probe fail, not time out.
local core = require "speezy.ready.core"
local app = require "speezy.app"

local M = {}

local function check(ms, err)
  if ms then return { status = "up", latencyMs = math.floor(ms * 1000 + 0.5) / 1000 } end
  return { status = "down", error = core.errors[err] }
end

function M.check()
  local pg_ms, pg_err, redis_ms, redis_err = core.probe()
  local checks = { postgres = check(pg_ms, pg_err), redis = check(redis_ms, redis_err) }
  local down = {}
  for name, c in pairs(checks) do
    if c.status ~= "up" then down[#down + 1] = name end
  end
  table.sort(down)
  if #down == 0 then return 200, { status = "ready", checks = checks } end
  return app.fail(503, "NOT_READY", "unavailable: " .. table.concat(down, ", "), checks)
end

return M
