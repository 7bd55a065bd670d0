-- speezy.openapi — the OpenAPI 3.1 document of a generation's routes, built from what each
-- route declares (speezy.app options: auth, idempotent, params, query, body, summary, ...).
-- GET /openapi.json serves it; a reload builds the next generation's document, so the
-- document always describes the routes that answer.
local json = require "speezy.json"

local M = {}

local ERROR = "#/components/schemas/Error"

local function error_response(description)
  return { description = description,
           content = { ["application/json"] = { schema = { ["$ref"] = ERROR } } } }
end

local COMPONENTS = {
  securitySchemes = { bearer = { type = "http", scheme = "bearer", bearerFormat = "JWT" } },
  schemas = {
    Error = {
      type = "object",
      required = { "success", "error", "requestId" },
      properties = {
        success = { const = false },
        error = {
          type = "object",
          required = { "code", "message" },
          properties = {
            code = { type = "string", examples = { "VALIDATION_FAILED" } },
            message = { type = "string" },
            details = {
              type = "array",
              items = {
                type = "object",
                properties = { field = { type = "string" }, rule = { type = "string" },
                               message = { type = "string" } },
              },
            },
          },
        },
        requestId = { type = "string" },
      },
    },
    Success = {
      type = "object",
      required = { "success" },
      properties = { success = { const = true } },
      additionalProperties = true,
    },
  },
}

local OPERATIONS = { get = true, put = true, post = true, delete = true, options = true,
                     head = true, patch = true, trace = true }

-- /store/:id -> /store/{id}
local function template(path)
  return (path:gsub(":([^/]+)", "{%1}"))
end

-- The path's :names (typed by the params schema when it declares them, else strings), one
-- query parameter per property of the query schema, and the Idempotency-Key header.
local function parameters(route)
  local out, o = {}, route.options
  local typed = o.params and o.params.properties or {}
  for name in route.path:gmatch(":([^/]+)") do
    out[#out + 1] = { name = name, ["in"] = "path", required = true,
                      schema = typed[name] or { type = "string" } }
  end
  if o.query then
    local required, names = {}, {}
    for _, name in ipairs(o.query.required or {}) do required[name] = true end
    for name in pairs(o.query.properties or {}) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      out[#out + 1] = { name = name, ["in"] = "query", required = required[name] == true,
                        schema = o.query.properties[name] }
    end
  end
  if o.idempotent then
    out[#out + 1] = {
      name = "Idempotency-Key", ["in"] = "header", required = false,
      description = "Retrying with the same key and body replays the first answer "
        .. "(Idempotent-Replayed: true) for 24 hours.",
      schema = { type = "string", minLength = 1, maxLength = 255 },
    }
  end
  return out
end

local function operation(route)
  local o = route.options
  local op = {
    summary = o.summary, description = o.description, tags = o.tags,
    deprecated = o.deprecated,
    responses = {
      ["2XX"] = { description = "Success: the envelope with the route's fields",
                  content = { ["application/json"] = {
                    schema = { ["$ref"] = "#/components/schemas/Success" } } } },
      ["500"] = error_response("INTERNAL"),
    },
  }
  local params = parameters(route)
  if #params > 0 then op.parameters = params end
  if o.body then
    op.requestBody = { required = true,
                       content = { ["application/json"] = { schema = o.body } } }
  end
  if o.body or o.query or o.params then
    op.responses["400"] = error_response("VALIDATION_FAILED or INVALID_JSON: every failing field")
  end
  if o.auth then
    op.security = { { bearer = json.array() } }
    op.responses["401"] = error_response("UNAUTHORIZED: a missing, bad or revoked token")
    if type(o.auth) == "table" then
      op.responses["403"] = error_response("FORBIDDEN: only " .. table.concat(o.auth.list, ", "))
      op.description = (op.description and op.description .. "\n\n" or "")
        .. "Roles: " .. table.concat(o.auth.list, ", ") .. "."
    end
  end
  if o.idempotent then
    op.responses["409"] = error_response("IDEMPOTENCY_IN_FLIGHT: the first request still runs")
    op.responses["422"] =
      error_response("IDEMPOTENCY_MISMATCH: the key was used for another request")
  end
  return op
end

-- The document as a Lua table; routes as speezy.app.routes() lists them (schemas already in
-- their JSON Schema form).
function M.document(routes, info)
  local paths = {}
  for _, route in ipairs(routes) do
    local method = route.method:lower()
    if OPERATIONS[method] then -- OpenAPI has no place for other methods (app.route's PURGE)
      local p = template(route.path)
      paths[p] = paths[p] or {}
      paths[p][method] = operation(route)
    end
  end
  return {
    openapi = "3.1.0",
    info = info,
    paths = paths,
    components = COMPONENTS,
  }
end

return M
