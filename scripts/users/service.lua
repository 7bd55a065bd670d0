-- scripts/users/service.lua — the signed-in user's own account (REST and, later, GraphQL).
local app = require "speezy.app"
local pg = require "speezy.pg"
local ids_lib = require "lib.ids"

local M = {}

local function shape(u)
  return { id = u.id, phone = u.phone, name = u.name, role = u.role }
end

-- The caller's user, or raises 401 when the account is gone (deleted after the token).
function M.me(caller)
  local rows = assert(pg.query([[SELECT id, phone, name, role FROM users
                                  WHERE id = $1 AND deleted_at IS NULL]], caller.id))
  if not rows[1] then app.raise(401, "UNAUTHORIZED", "this account no longer exists") end
  return shape(rows[1])
end

-- Live users by id, for speezy.loader (a store's owner in GraphQL): one statement for all of
-- them, the answers in the order of ids in me's shape, nil where there is no live user.
function M.by_ids(ids)
  local wanted = ids_lib.distinct(ids)
  if #wanted == 0 then return {} end
  local rows = assert(pg.query([[SELECT id, phone, name, role FROM users
                                  WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL]],
    pg.array(wanted)))
  local list = ids_lib.in_order(ids, rows)
  for i = 1, #ids do
    if list[i] then list[i] = shape(list[i]) end
  end
  return list
end

-- Sets the caller's name (1 to 200 characters once trimmed).
function M.rename(caller, name)
  if type(name) ~= "string" then
    app.raise(400, "VALIDATION_FAILED", "name must be a string",
      { { field = "name", rule = "type", message = "name must be a string" } })
  end
  name = name:match("^%s*(.-)%s*$")
  local chars = select(2, name:gsub("[^\128-\191]", "")) -- characters, not bytes
  if not chars or chars < 1 or chars > 200 then
    app.raise(400, "VALIDATION_FAILED", "name must be 1 to 200 characters",
      { { field = "name", rule = "maxLength", message = "name must be 1 to 200 characters" } })
  end
  local rows = assert(pg.query([[UPDATE users SET name = $2
                                  WHERE id = $1 AND deleted_at IS NULL
                                  RETURNING id, phone, name, role]], caller.id, name))
  if not rows[1] then app.raise(401, "UNAUTHORIZED", "this account no longer exists") end
  return shape(rows[1])
end

return M
