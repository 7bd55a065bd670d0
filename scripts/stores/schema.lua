-- scripts/stores/schema.lua — what a store request may contain (speezy.schema definitions).
-- The routes declare them (`body = schema.create`), the host validates every request against
-- them before the handler runs and lists them in /openapi.json; GraphQL reuses them.
local M = {}

-- A required text field: at least one non-space character (the tables refuse blank ones).
local function text(max)
  return { type = "string", minLength = 1, maxLength = max, pattern = "\\S" }
end

M.address = {
  type = "object",
  required = { "street", "city", "state", "postalCode", "country", "latitude", "longitude" },
  properties = {
    street = text(200),
    city = text(100),
    state = text(100),
    postalCode = text(20),
    country = text(100),
    latitude = { type = "number", minimum = -90, maximum = 90 },
    longitude = { type = "number", minimum = -180, maximum = 180 },
  },
}

M.create = {
  type = "object",
  required = { "name", "address" },
  properties = {
    name = text(120),
    description = { type = "string", maxLength = 2000, nullable = true },
    -- The login rule (a 10-digit number or +<country><number>) is applied by the service,
    -- which stores the normalized E.164 form.
    phone = { type = "string", minLength = 1, maxLength = 32, nullable = true },
    address = M.address,
  },
}

M.id = {
  type = "object",
  required = { "id" },
  properties = { id = { type = "integer", minimum = 1 } },
}

return M
