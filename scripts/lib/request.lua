-- scripts/lib/request.lua — small request helpers the route modules share.
local app = require "speezy.app"

local M = {}

-- The body as a JSON object (a Lua table with no array part), or raises 400.
function M.object(req)
  local b = req:json()
  if type(b) ~= "table" or b[1] ~= nil then
    app.raise(400, "VALIDATION_FAILED", "the body must be a JSON object")
  end
  return b
end

return M
