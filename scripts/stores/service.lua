-- scripts/stores/service.lua — the stores' business rules, shared by the REST routes and
-- GraphQL. Input arrives validated against stores.schema; authorization by role is the
-- route's `auth` option, anything finer (whose store is it) lives here.
local app = require "speezy.app"
local otp = require "speezy.otp"
local pg = require "speezy.pg"
local repo = require "stores.repo"

local M = {}

local function trim(s)
  return s:match("^%s*(.-)%s*$")
end

-- Optional text: JSON null and absent are the same (no value).
local function optional(v)
  if v == nil or v == pg.null then return nil end
  return v
end

-- The seed's shape: {"id","name","description","phone","ownerId","addressId"}.
local function shape(r)
  return { id = r.id, name = r.name, description = optional(r.description) or pg.null,
           phone = optional(r.phone) or pg.null, ownerId = r.owner_id, addressId = r.address_id }
end

-- Phones follow the login's rule and are stored in the same E.164 form as users' phones.
local function phone(v)
  v = optional(v)
  if v == nil then return nil end
  local e164 = otp.normalize(v)
  if not e164 then
    local msg = "phone must be a 10-digit number or +<country><number>"
    app.raise(400, "VALIDATION_FAILED", msg,
      { { field = "phone", rule = "format", message = msg } })
  end
  return e164
end

-- Creates a store owned by the caller; returns it in the seed's shape.
function M.create(caller, input)
  local a = input.address
  local row = repo.insert(caller.id, {
    name = trim(input.name), description = optional(input.description), phone = phone(input.phone),
  }, {
    street = trim(a.street), city = trim(a.city), state = trim(a.state),
    postalCode = trim(a.postalCode), country = trim(a.country),
    latitude = a.latitude, longitude = a.longitude,
  })
  return shape(row)
end

-- A store with its address, or raises 404 NOT_FOUND (also for a soft-deleted one).
function M.get(id)
  local r = repo.find(id)
  if not r then app.raise(404, "NOT_FOUND", "store not found") end
  local s = shape(r)
  s.isOpen = r.is_open
  s.address = { id = r.address_id, street = r.street, city = r.city, state = r.state,
                postalCode = r.postal_code, country = r.country, latitude = r.latitude,
                longitude = r.longitude }
  return s
end

return M
