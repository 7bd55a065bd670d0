-- scripts/lib/ids.lua — database ids as they arrive from clients: numbers from JSON, digit
-- strings from GraphQL's ID and from cursors.
local M = {}

-- The id as PostgreSQL's bigint identity columns hold it (a positive integer a Lua number
-- keeps exactly), or nil for anything else.
function M.bigint(id)
  if type(id) == "string" then
    if not id:match("^%d+$") then return nil end
    id = tonumber(id)
  end
  if type(id) ~= "number" or id < 1 or id % 1 ~= 0 or id >= 2 ^ 53 then return nil end
  return id
end

-- The ids of list that are ids, in order, without repeats: what `= ANY($1)` needs.
function M.distinct(list)
  local out, seen = {}, {}
  for _, v in ipairs(list) do
    local id = M.bigint(v)
    if id and not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  return out
end

-- The rows answering ids, in the order of ids (nil where none did), by their id column:
-- what a speezy.loader batch function returns.
function M.in_order(ids, rows)
  local by_id = {}
  for _, r in ipairs(rows) do by_id[r.id] = r end
  local out = {}
  for i, v in ipairs(ids) do
    local id = M.bigint(v)
    out[i] = id and by_id[id] or nil
  end
  return out
end

return M
