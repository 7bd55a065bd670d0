-- scripts/stores/service.lua — the stores' business rules, shared by the REST routes and
-- GraphQL. Input arrives validated against stores.schema; authorization by role is the
-- route's `auth` option, anything finer (whose store is it) lives here.
local app = require "speezy.app"
local crypto = require "speezy.crypto"
local json = require "speezy.json"
local otp = require "speezy.otp"
local pg = require "speezy.pg"
local repo = require "stores.repo"
local ids = require "lib.ids"

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

-- A store with its address, or nil when there is none (or it was soft-deleted).
function M.find(id)
  local r = repo.find(id)
  if not r then return nil end
  local s = shape(r)
  s.isOpen = r.is_open
  s.address = { id = r.address_id, street = r.street, city = r.city, state = r.state,
                postalCode = r.postal_code, country = r.country, latitude = r.latitude,
                longitude = r.longitude }
  return s
end

-- The same, or raises 404 NOT_FOUND.
function M.get(id)
  return M.find(id) or app.raise(404, "NOT_FOUND", "store not found")
end

-- ---- the list: Relay cursor pagination (GraphQL's stores(first, after)) ----

local PAGE_DEFAULT, PAGE_MAX = 20, 100

local function bad_input(field, rule, msg)
  app.raise(400, "BAD_USER_INPUT", msg, { { field = field, rule = rule, message = msg } })
end

-- A cursor is opaque to clients: base64url of the store's id. Ids only grow, so the next page
-- is "after this id" even when stores of the page were deleted meanwhile.
local function cursor(id)
  return crypto.base64url_encode(tostring(id))
end

local function after_id(after)
  if after == nil or after == pg.null then return 0 end
  local text = type(after) == "string" and crypto.base64url_decode(after)
  local id = text and text:match("^[1-9]%d*$") and ids.bigint(text)
  if not id then bad_input("after", "cursor", "after is not a cursor of this list") end
  return id
end

local function page_size(first)
  if first == nil or first == pg.null then return PAGE_DEFAULT end
  if type(first) ~= "number" or first % 1 ~= 0 or first < 0 or first > PAGE_MAX then
    bad_input("first", "range", "first must be an integer from 0 to " .. PAGE_MAX)
  end
  return first
end

-- Live stores in id order, a page of them: opts.first (default 20, at most 100), opts.after (a
-- cursor of an earlier page), opts.total (add totalCount, the number of live stores).
-- Returns { edges = { { cursor, node } }, pageInfo = { hasNextPage, hasPreviousPage,
-- startCursor, endCursor }, totalCount }; a node is a store in the seed's shape plus isOpen
-- (its address and owner come from addresses_by_ids and users.by_ids). A bad first or after
-- raises 400 BAD_USER_INPUT. One statement per page.
function M.list(opts)
  opts = opts or {}
  local first = page_size(opts.first)
  local rows = repo.page(after_id(opts.after), first + 1, opts.total == true)
  local edges = {}
  for i = 1, math.min(#rows, first) do
    local r = rows[i]
    local node = shape(r)
    node.isOpen = r.is_open
    edges[i] = { cursor = cursor(r.id), node = node }
  end
  local page = {
    edges = json.array(edges),
    pageInfo = {
      hasNextPage = #rows > first, hasPreviousPage = false,
      startCursor = edges[1] and edges[1].cursor or pg.null,
      endCursor = edges[#edges] and edges[#edges].cursor or pg.null,
    },
  }
  if opts.total == true then page.totalCount = rows[1] and rows[1].total or repo.count() end
  return page
end

-- Addresses by id in the API's shape, for speezy.loader (GraphQL's Store.address).
M.addresses_by_ids = repo.addresses_by_ids

return M
