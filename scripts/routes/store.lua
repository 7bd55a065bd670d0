-- The seed's store routes. Each route declares who may call it, what its input looks like and
-- whether a retry with the same Idempotency-Key replays; the handler only says what to do.
local app = require "speezy.app"
local schema = require "stores.schema"
local stores = require "stores.service"

app.post("/store", {
  summary = "Create a store", tags = { "stores" },
  auth = { "STORE_OWNER", "ADMIN" }, idempotent = true, body = schema.create,
}, function(req)
  return 201, { store = stores.create(req.user, req:json()) }
end)

app.get("/store/:id", {
  summary = "A store with its address", tags = { "stores" }, params = schema.id,
}, function(req)
  return 200, { store = stores.get(req.params.id) }
end)
