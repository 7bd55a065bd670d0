-- Stores in GraphQL. Every answer comes from scripts/stores/service.lua, the module REST's
-- /store routes call, so validation, authorization and data access are written once; the
-- owners and addresses of a page are loaded in one query each (speezy.loader), not one per
-- store.
local app = require "speezy.app"
local loader = require "speezy.loader"
local schema = require "speezy.schema"
local store_schema = require "stores.schema"
local stores = require "stores.service"
local users = require "users.service"

local create_input = schema.compile(store_schema.create, "CreateStoreInput")

-- A store id as GraphQL passes it (an ID is a string): a positive integer, or nil.
local function store_id(v)
  local n = tonumber(v)
  if n and n >= 1 and n == math.floor(n) and n < 2 ^ 53 then return n end
end

local function owners(ctx)
  return loader.for_request(ctx, "users.by_id", users.by_ids)
end

local function addresses(ctx)
  return loader.for_request(ctx, "addresses.by_id", stores.addresses_by_ids)
end

return {
  Query = {
    store = function(_, args)
      local id = store_id(args.id)
      return id and stores.find(id) or nil
    end,

    stores = function(_, args)
      return stores.list({ first = args.first, after = args.after })
    end,
  },

  Mutation = {
    createStore = function(_, args, ctx)
      local input, details = create_input:validate(args.input)
      if not input then
        app.raise(400, "VALIDATION_FAILED", "the input is not valid", details)
      end
      -- REST answers a create in the seed's short shape; GraphQL may ask for any field
      return stores.find(stores.create(ctx.user, input).id)
    end,
  },

  Store = {
    owner = function(store, _, ctx)
      return owners(ctx):load(store.ownerId)
    end,

    address = function(store, _, ctx)
      if store.address then return store.address end
      return addresses(ctx):load(store.addressId)
    end,
  },
}
