-- speezy.misuse — how the host library reports a script's programming error: raised with the
-- file:line of the script's own call, not of the library code between them.
--
--   local misuse = require "speezy.misuse"
--   misuse.raise("queue.add", "options must be a table")  -- "app.lua:12: queue.add: options..."
local M = {}

-- The script's line that called into the host library: the first frame that is neither C nor
-- host/lib code.
function M.where()
  for level = 3, 30 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and not info.source:find("^@host/lib/") then
      return info.short_src .. ":" .. (info.currentline or 0)
    end
  end
  return "?"
end

function M.raise(what, msg)
  error(M.where() .. ": " .. what .. ": " .. msg, 0)
end

return M
