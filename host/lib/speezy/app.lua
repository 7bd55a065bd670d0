-- speezy.app — routes, hooks and the response envelope.
--
--   app.get("/stores/:id", function(req) return 200, { store = s } end)
--     -> 200 {"success":true,"store":{...}}
--   return app.fail(404, "NOT_FOUND", "store not found")    -- error envelope
--   return app.fail(err)                 -- an err from pg/redis: status from err.code
--   app.raise(400, "VALIDATION", "phone is required", details)   -- from anywhere below
--   app.raise(429, "RATE_LIMITED", "slow down", nil, { ["Retry-After"] = "30" })  -- with headers
--   assert(pg.query(...))               -- a raised err from pg/redis: as app.fail(err)
--
--   app.post("/store", { auth = { "STORE_OWNER", "ADMIN" }, summary = "Create a store" }, fn)
--   app.group("/store", { auth = true }, function(g) g.use(hook); g.get("/:id", fn) end)
--
-- Options (checked when the scripts load; a misuse refuses the generation with file:line):
-- auth (true: any signed-in caller; a list of roles; false: open), idempotent, body, query,
-- params, summary, description, tags, deprecated. A request walks: auth (speezy.auth; the
-- caller on req.user, 401/403 otherwise), app.use's hooks, the group's hooks outer to inner,
-- the handler, the encoding.
--
-- A handler returns status, body[, headers]. A table body becomes the success envelope; a
-- string body is sent as is (Content-Type from headers, default text/plain).
local core = require "speezy.core"
local json = require "speezy.json"
local misuse = require "speezy.misuse"

local M = {}

-- routes[i]: { method, path (with its group's prefix), where (the script's file:line), options
-- (normalized), handler, group, builtin, steps }; the router's handler i is routes[i].
local routes = {}
local booting = true

-- Status for the stable error codes of pg, redis, queue, otp and the host.
local STATUS = {
  BAD_REQUEST = 400, VALIDATION = 400, INVALID_JSON = 400, INVALID_INPUT = 400,
  UNAUTHORIZED = 401, FORBIDDEN = 403, NOT_FOUND = 404, CONFLICT = 409,
  INVALID_REFERENCE = 422, CONSTRAINT_VIOLATION = 422, RATE_LIMITED = 429,
  INVALID_STATE = 409, IDEMPOTENCY_IN_FLIGHT = 409, IDEMPOTENCY_MISMATCH = 422,
  SERIALIZATION_FAILURE = 503, DB_UNAVAILABLE = 503, REDIS_UNAVAILABLE = 503, REDIS_BUSY = 503,
  QUEUE_UNAVAILABLE = 503, VALIDATION_FAILED = 400, OTP_INVALID = 401, OTP_UNAVAILABLE = 503,
  TIMEOUT = 504, REDIS_TIMEOUT = 504,
}

-- 5xx details stay in the log: clients get a stable, non-revealing message.
local PUBLIC_5XX = {
  [500] = "internal server error",
  [503] = "a backing service is unavailable, retry later",
  [504] = "the operation timed out",
}

local Failure = {}
local HttpError = {}
HttpError.__tostring = function(e) return e.code .. ": " .. e.message end

-- Registration -----------------------------------------------------------------------------

local METHODS = { "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD" }

-- A route's options, each checked when the scripts load: a typo or a wrong type refuses the
-- generation with the script's file:line rather than leaving a route open or unvalidated.
local function is_list_of_strings(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  for i = 1, n do
    if type(v[i]) ~= "string" or v[i] == "" then return false end
  end
  return true
end

local function role_list(what, roles)
  local auth = require "speezy.auth"
  if not is_list_of_strings(roles) or #roles == 0 then
    misuse.raise(what, "option auth must be true, false or a non-empty list of roles")
  end
  local list, set = {}, {}
  for i, role in ipairs(roles) do
    if not auth.ROLES[role] then
      misuse.raise(what, "option auth: unknown role '" .. role ..
        "' (roles: ADMIN, CUSTOMER, DELIVERY_PARTNER, STORE_OWNER)")
    end
    list[i], set[role] = role, true
  end
  return { list = list, set = set }
end

local function expect(type_name)
  return function(what, key, v)
    if type(v) ~= type_name then
      misuse.raise(what, "option " .. key .. " must be a " .. type_name .. ", got " .. type(v))
    end
    return v
  end
end

-- A schema is compiled where it is declared: a mistake in it names the route's line.
local function schema_option(what, key, v)
  expect("table")(what, key, v)
  return require("speezy.schema").compile(v, key)
end

local OPTIONS = {
  auth = function(what, _, v)
    if type(v) == "boolean" then return v end
    return role_list(what, v)
  end,
  idempotent = expect("boolean"),
  deprecated = expect("boolean"),
  body = schema_option,
  query = schema_option,
  params = schema_option,
  summary = expect("string"),
  description = expect("string"),
  tags = function(what, _, v)
    if not is_list_of_strings(v) then
      misuse.raise(what, "option tags must be a list of strings")
    end
    return { unpack(v) }
  end,
}

-- The options as given, checked and normalized (auth = { list, set } for a role list).
local function normalize(what, options)
  if type(options) ~= "table" then
    misuse.raise(what, "options must be a table, got " .. type(options))
  end
  local out = {}
  for k, v in pairs(options) do
    local check = type(k) == "string" and OPTIONS[k]
    if not check then
      misuse.raise(what, "unknown option '" .. tostring(k) .. "' (options: auth, body, " ..
        "deprecated, description, idempotent, params, query, summary, tags)")
    end
    out[k] = check(what, k, v)
  end
  return out
end

-- A group: its full prefix, its options (the defaults of its routes), its hooks and its parent.
-- The root group holds app.use's hooks; the host's own routes belong to no group.
local root = { prefix = "", defaults = {}, hooks = {} }

local function add(group, method, what, path, options, handler)
  if not booting then misuse.raise(what, "routes are registered only while scripts load") end
  if type(path) ~= "string" then misuse.raise(what, "path must be a string") end
  if handler == nil and type(options) == "function" then options, handler = nil, options end
  if type(handler) ~= "function" then misuse.raise(what, "handler must be a function") end
  local own = options == nil and {} or normalize(what, options)
  local full = path
  if group and group.prefix ~= "" then
    if path:sub(1, 1) ~= "/" then misuse.raise(what, "path must start with /") end
    full = path == "/" and group.prefix or group.prefix .. path
  end
  -- A route's own option wins over its group's (auth = false opens one route of an auth group).
  for k, v in pairs(group and group.defaults or {}) do
    if own[k] == nil then own[k] = v end
  end
  if own.auth == nil then own.auth = false end
  if own.idempotent and not own.auth then
    misuse.raise(what, "option idempotent needs auth: Idempotency-Keys belong to a user")
  end
  routes[#routes + 1] = { method = method, path = full, where = misuse.where(), options = own,
    handler = handler, group = group, builtin = group == nil or nil }
end

local function use(group, what, hook)
  if not booting then misuse.raise(what, "hooks are registered only while scripts load") end
  if type(hook) ~= "function" then misuse.raise(what, "hook must be a function") end
  group.hooks[#group.hooks + 1] = hook
end

-- The functions that register into a group: app itself for the root, g inside app.group.
local function registrar(group, name)
  local r = {}
  for _, m in ipairs(METHODS) do
    local what = name .. "." .. m:lower()
    r[m:lower()] = function(path, options, handler)
      add(group, m, what, path, options, handler)
    end
  end
  function r.route(method, path, options, handler)
    if type(method) ~= "string" or not method:match("^%u+$") then
      misuse.raise(name .. ".route", "method must be an upper-case HTTP method")
    end
    add(group, method, name .. ".route", path, options, handler)
  end
  -- hook(req) runs before each handler of the group (app.use: of every application route);
  -- returning a status answers the request there.
  function r.use(hook)
    use(group, name .. ".use", hook)
  end
  -- Routes registered inside fn(g) get prefix .. path and options as defaults; g.use hooks run
  -- only for them (and for the routes of groups nested in g), after the outer groups' hooks.
  function r.group(prefix, options, fn)
    local what = name .. ".group"
    if not booting then misuse.raise(what, "groups are registered only while scripts load") end
    if fn == nil and type(options) == "function" then options, fn = nil, options end
    if type(prefix) ~= "string" or not prefix:match("^/.") or prefix:sub(-1) == "/" then
      misuse.raise(what, "prefix must start with / and not end with /, like /store")
    end
    if type(fn) ~= "function" then misuse.raise(what, "the last argument must be a function") end
    local defaults = {}
    for k, v in pairs(group.defaults) do defaults[k] = v end
    for k, v in pairs(options == nil and {} or normalize(what, options)) do defaults[k] = v end
    local child = { prefix = group.prefix .. prefix, defaults = defaults, hooks = {},
      parent = group }
    fn(registrar(child, "g"))
  end
  return r
end

for k, f in pairs(registrar(root, "app")) do M[k] = f end

-- The routes of this generation, in registration order: { method, path, options, builtin }
-- (complete once the scripts have loaded: call it from a handler); params, query and body as
-- JSON Schema (speezy.schema's json_schema()). Copies: changing them changes nothing the
-- dispatch reads.
function M.routes()
  local list = {}
  for i, r in ipairs(routes) do
    local o = {}
    for k, v in pairs(r.options) do o[k] = v end
    if type(o.auth) == "table" then
      local set = {}
      for k in pairs(o.auth.set) do set[k] = true end
      o.auth = { list = { unpack(o.auth.list) }, set = set }
    end
    if o.tags then o.tags = { unpack(o.tags) } end
    for _, k in ipairs { "params", "query", "body" } do
      if o[k] then o[k] = o[k]:json_schema() end
    end
    list[i] = { method = r.method, path = r.path, options = o, builtin = r.builtin }
  end
  return list
end

-- cause: what a 5xx hides from the client, logged with the request id once it is answered.
local function failure(code, message, details, cause)
  return setmetatable({ code = code, message = message, details = details, cause = cause },
    Failure)
end

function M.fail(status, code, message, details)
  if type(status) == "table" then
    local err = status
    local st = STATUS[err.code] or 500
    if st >= 500 then
      return st, failure(err.code or "INTERNAL", PUBLIC_5XX[st] or PUBLIC_5XX[500], nil,
        tostring(err.code) .. ": " .. tostring(err.message))
    end
    return st, failure(err.code, err.message, err.details)
  end
  if type(status) ~= "number" or type(code) ~= "string" then
    error("app.fail(status, code, message[, details]) or app.fail(err)", 2)
  end
  return status, failure(code, message or code, details)
end

function M.raise(status, code, message, details, headers)
  error(setmetatable({ status = status, code = code, message = message or code,
                       details = details, headers = headers }, HttpError), 0)
end

-- Request ------------------------------------------------------------------------------

local Headers = {
  __index = function(t, k)
    if type(k) == "string" then return rawget(t, k:lower()) end
  end,
}

local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function parse_query(qs)
  local q = {}
  if not qs or qs == "" then return q end
  for pair in qs:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=(.*)$")
    k, v = unescape(k or pair), v and unescape(v) or ""
    local prev = q[k]
    if prev == nil then
      q[k] = v
    elseif type(prev) == "table" then
      prev[#prev + 1] = v
    else
      q[k] = { prev, v }
    end
  end
  return q
end

-- Fields built from the HTTP request only when a handler reads them (most read a few).
local LAZY = { path = true, query_string = true, body = true, ip = true, id = true, headers = true }

local Request = {}
local RequestMT = {
  __index = function(req, k)
    if LAZY[k] then
      local v = core.request_field(rawget(req, "_co"), rawget(req, "_serial"), k)
      if k == "headers" then setmetatable(v, Headers) end
      rawset(req, k, v)
      return v
    end
    if k == "query" then
      local q = parse_query(req.query_string)
      rawset(req, "query", q)
      return q
    end
    return Request[k]
  end,
}

function Request.header(req, name)
  return req.headers[name:lower()]
end

-- The body decoded as JSON; malformed or empty bodies end the request with 400 INVALID_JSON.
function Request.json(req)
  local cached = rawget(req, "_json")
  if cached ~= nil then return cached end
  local body = req.body
  if body == nil or body == "" then M.raise(400, "INVALID_JSON", "request body is empty") end
  local value, err = json.decode(body)
  if value == nil then M.raise(400, "INVALID_JSON", "request body is not valid JSON: " .. err) end
  rawset(req, "_json", value)
  return value
end

-- Dispatch -------------------------------------------------------------------------------

-- The step of a route declared with `auth`: the caller's token and session (speezy.auth, 401),
-- then its role (403); the caller lands on req.user for the hooks and the handler.
local function authenticator(rule)
  local auth = require "speezy.auth"
  if rule == true then
    return function(req)
      req.user = auth.user(req)
    end
  end
  local set, allowed = rule.set, table.concat(rule.list, ", ")
  return function(req)
    local user = auth.user(req)
    if not set[user.role] then
      M.raise(403, "FORBIDDEN", "this route is for " .. allowed, nil,
        { ["WWW-Authenticate"] = 'Bearer realm="speezy", error="insufficient_scope"' })
    end
    req.user = user
  end
end

-- The step of a route declared with params, query or body schemas: every failing field of the
-- three at once in one 400 VALIDATION_FAILED. Query and params arrive as strings and are coerced
-- to the declared types; the handler reads the checked values where it always does (req.params,
-- req.query, req:json()).
local COERCE = { coerce = true }

local function merge(details, failed)
  if not details then return failed end
  for i = 1, #failed do details[#details + 1] = failed[i] end
  return details
end

local function validator(o)
  local params, query, body = o.params, o.query, o.body
  return function(req)
    local details, ok, failed
    if params then
      ok, failed = params:validate(req.params, COERCE)
      if ok == nil then details = failed end
    end
    if query then
      ok, failed = query:validate(req.query, COERCE)
      if ok == nil then details = merge(details, failed) end
    end
    if body then
      ok, failed = body:validate(req:json())
      if ok == nil then details = merge(details, failed) end
    end
    if details then
      M.raise(400, "VALIDATION_FAILED", "the request does not match the route's schema", details)
    end
  end
end

-- The step of an idempotent route (speezy.idempotency): a retry with a known Idempotency-Key is
-- answered from the stored answer; a new key is claimed, and _dispatch stores the answer.
local function idempotency(req)
  local claim, replay = require("speezy.idempotency").begin(req, req.user.id)
  if replay then
    local headers = replay.headers or {}
    headers["Content-Type"] = replay.content_type
    return replay.status, replay.body, headers
  end
  rawset(req, "_claim", claim)
end

-- What runs before a route's handler, in order, built once when the scripts have loaded: each
-- step gets req, and one that returns a status answers the request and ends the walk. The host's
-- own routes (/readyz) belong to no group, so they get no hook: no application hook may turn a
-- probe into a 401.
local function plan(route)
  local steps = {}
  local o = route.options
  if o.auth then steps[#steps + 1] = authenticator(o.auth) end
  local chain, g = {}, route.group
  while g do
    table.insert(chain, 1, g)
    g = g.parent
  end
  for _, group in ipairs(chain) do -- app.use's hooks, then each group's, outer to inner
    for _, hook in ipairs(group.hooks) do steps[#steps + 1] = hook end
  end
  if o.params or o.query or o.body then steps[#steps + 1] = validator(o) end
  if o.idempotent then steps[#steps + 1] = idempotency end
  return steps
end

local function run(route, req)
  local steps = route.steps
  for i = 1, #steps do
    local status, body, headers = steps[i](req)
    if status then return status, body, headers end
  end
  return route.handler(req)
end

-- app.raise's errors and the err tables of pg and redis (assert(pg.query(...))) are answers;
-- anything else raised is a bug, logged with its traceback.
local function on_error(e)
  if getmetatable(e) == HttpError or core.is_error(e) then return e end
  return debug.traceback(tostring(e), 2)
end

local JSON = "application/json"

local function error_body(f, id)
  local e = { code = f.code, message = f.message, details = f.details }
  return '{"success":false,"error":' .. json.encode(e) .. ',"requestId":' .. json.encode(id) .. "}"
end

-- held: the success envelope may stay in the encoder's buffer (true stands for it); an
-- idempotent route needs its bytes to store them.
local function encode(body, req, held)
  if getmetatable(body) == Failure then
    if body.cause then core.log("error", "request failed: " .. body.cause, req.id) end
    return error_body(body, req.id), JSON
  end
  local t = type(body)
  if t == "string" then return body, nil end
  if body == nil then return '{"success":true}', JSON end
  if t ~= "table" then error("handler body must be a table, a string or nil, got " .. t, 0) end
  if held then return json._envelope_held(body), JSON end
  return json.envelope(body), JSON
end

-- The answer, stored first when the request claimed an Idempotency-Key (a 5xx releases it).
local function answer(req, status, out, ctype, headers)
  local claim = rawget(req, "_claim")
  if claim then
    local stored = ctype
    if not stored then -- a string body: its type is in the handler's headers, if anywhere
      for k, v in pairs(headers or {}) do
        if type(k) == "string" and k:lower() == "content-type" then stored = v end
      end
    end
    -- finish logs its own failure: the key then frees itself after the request timeout
    require("speezy.idempotency").finish(claim, status, out, stored, headers)
  end
  return status, out, ctype, headers
end

local function internal(req, msg)
  core.log("error", "handler error: " .. msg, req.id)
  return answer(req, 500, error_body(failure("INTERNAL", PUBLIC_5XX[500]), req.id), JSON)
end

-- Runs in the request's coroutine; returns status, body, content type, headers.
function M._dispatch(idx, method, params, serial)
  local route = routes[idx]
  local req = setmetatable({
    method = method, route = route.path, params = params or {},
    _co = coroutine.running(), _serial = serial, -- what reads the lazy fields (RequestMT)
  }, RequestMT)
  local ok, status, body, headers = xpcall(run, on_error, route, req)
  if not ok then
    local e = status
    if getmetatable(e) == HttpError then
      status, body, headers = e.status, failure(e.code, e.message, e.details), e.headers
    elseif type(e) == "table" then
      status, body = M.fail(e)
      headers = nil
    else
      return internal(req, e)
    end
  end
  if type(status) ~= "number" or status < 100 or status > 599 or status % 1 ~= 0 then
    return internal(req, "handler returned an invalid status: " .. tostring(status))
  end
  local ok2, out, ctype = pcall(encode, body, req, rawget(req, "_claim") == nil)
  if not ok2 then return internal(req, "cannot encode the response: " .. tostring(out)) end
  return answer(req, status, out, ctype, headers)
end

function M._finish()
  -- POST and GET /graphql: the host's, in a generation whose scripts brought a schema
  require("speezy.graphql.http").register(function(method, path, handler)
    add(nil, method, "app." .. method:lower(), path, nil, handler)
  end)
  booting = false
  for _, route in ipairs(routes) do route.steps = plan(route) end
  return routes
end

-- Readiness: the host's own route, present in every generation.
add(nil, "GET", "app.get", "/readyz", nil, function()
  local ready = require "speezy.ready"
  return ready.check()
end)

-- The OpenAPI 3.1 document of this generation's application routes, built on the first request
-- after the scripts loaded (a reload builds the next generation's).
local openapi_doc

add(nil, "GET", "app.get", "/openapi.json", nil, function()
  if not openapi_doc then
    local list = {}
    for _, r in ipairs(M.routes()) do
      if not r.builtin then list[#list + 1] = r end
    end
    openapi_doc = json.encode(require("speezy.openapi").document(list, {
      title = "Speezy", version = core.generation(),
      description = "The marketplace API: every route of the running scripts, with its "
        .. "options (auth, schemas, idempotency). Answers use the envelope "
        .. "{\"success\": true, ...} or {\"success\": false, \"error\": {...}}.",
    }))
  end
  return 200, openapi_doc, { ["Content-Type"] = "application/json" }
end)

return M
