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
-- A handler returns status, body[, headers]. A table body becomes the success envelope; a
-- string body is sent as is (Content-Type from headers, default text/plain).
local core = require "speezy.core"
local json = require "speezy.json"

local M = {}

local routes, handlers, hooks = {}, {}, {}
local booting = true


-- Status for the stable error codes of pg, redis, queue, otp and the host.
local STATUS = {
  BAD_REQUEST = 400, VALIDATION = 400, INVALID_JSON = 400, INVALID_INPUT = 400,
  UNAUTHORIZED = 401, FORBIDDEN = 403, NOT_FOUND = 404, CONFLICT = 409,
  INVALID_REFERENCE = 422, CONSTRAINT_VIOLATION = 422, RATE_LIMITED = 429,
  INVALID_STATE = 409,
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

local function where(level)
  local info = debug.getinfo(level, "Sl")
  return info and (info.short_src .. ":" .. (info.currentline or 0) .. ":") or "?:"
end

local function add(method, path, handler)
  if not booting then
    error("app." .. method:lower() .. ": routes are registered only while scripts load", 3)
  end
  if type(path) ~= "string" then error("app." .. method:lower() .. ": path must be a string", 3) end
  if type(handler) ~= "function" then
    error("app." .. method:lower() .. ": handler must be a function", 3)
  end
  routes[#routes + 1] = { method = method, path = path, where = where(4) }
  handlers[#routes] = handler
end

for _, m in ipairs { "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD" } do
  M[m:lower()] = function(path, handler) add(m, path, handler) end
end

function M.route(method, path, handler)
  if type(method) ~= "string" or not method:match("^%u+$") then
    error("app.route: method must be an upper-case HTTP method", 2)
  end
  add(method, path, handler)
end

-- hook(req) runs before every handler; returning a status short-circuits the request.
function M.use(hook)
  if not booting then error("app.use: hooks are registered only while scripts load", 2) end
  if type(hook) ~= "function" then error("app.use: hook must be a function", 2) end
  hooks[#hooks + 1] = hook
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

local function run(idx, req)
  for i = 1, #hooks do
    local status, body, headers = hooks[i](req)
    if status then return status, body, headers end
  end
  return handlers[idx](req)
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

local function encode(body, req)
  if getmetatable(body) == Failure then
    if body.cause then core.log("error", "request failed: " .. body.cause, req.id) end
    return error_body(body, req.id), JSON
  end
  local t = type(body)
  if t == "string" then return body, nil end
  if body == nil then return '{"success":true}', JSON end
  if t ~= "table" then error("handler body must be a table, a string or nil, got " .. t, 0) end
  return json._envelope_held(body), JSON -- sent from the encoder's buffer: true stands for it
end

local function internal(req, msg)
  core.log("error", "handler error: " .. msg, req.id)
  return 500, error_body(failure("INTERNAL", PUBLIC_5XX[500]), req.id), JSON
end

-- Runs in the request's coroutine; returns status, body, content type, headers.
function M._dispatch(idx, method, params, serial)
  local req = setmetatable({
    method = method, route = routes[idx].path, params = params or {},
    _co = coroutine.running(), _serial = serial, -- what reads the lazy fields (RequestMT)
  }, RequestMT)
  local ok, status, body, headers = xpcall(run, on_error, idx, req)
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
  local ok2, out, ctype = pcall(encode, body, req)
  if not ok2 then return internal(req, "cannot encode the response: " .. tostring(out)) end
  return status, out, ctype, headers
end

function M._finish()
  booting = false
  return routes
end

-- Readiness: the host's own route, present in every generation.
M.get("/readyz", function()
  local ready = require "speezy.ready"
  return ready.check()
end)

return M
