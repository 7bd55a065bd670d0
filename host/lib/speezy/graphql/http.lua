-- speezy.graphql.http — POST /graphql and GET /graphql, the GraphQL-over-HTTP specification
-- (graphql/graphql-over-http) on speezy.app's builtin routes: they exist in a generation that
-- has a schema (speezy.graphql.load), belong to no group and run no application hook.
--
-- A request: POST with Content-Type application/json (else 415) and a JSON object body
-- { query, operationName, variables, extensions }; or GET with the same as URL parameters,
-- variables and extensions JSON-encoded (a mutation over GET: 405, Allow: POST). The answer is
-- always a GraphQL response { errors?, data?, extensions? } (never the REST envelope), in the
-- media type the Accept header prefers: application/graphql-response+json, else
-- application/json (also for */* or no Accept); 406 when it accepts neither.
--
-- Status: 200 for an executed request. A request that is not a well-formed GraphQL-over-HTTP
-- request (bad JSON, a parameter of the wrong type, no query) is 400 whatever the media type.
-- A request error of a well-formed request (the document does not parse, breaks a limit or
-- does not validate, its variables do not coerce, a persisted query is unknown) is 400 under
-- application/graphql-response+json and 200 under application/json, as the specification
-- asks of both. A Bearer token is optional: none, ctx.user is nil; an invalid one is the
-- request error UNAUTHENTICATED, 401 under application/graphql-response+json.
local core = require "speezy.core"
local json = require "speezy.json"
local apq = require "speezy.graphql.apq"
local auth = require "speezy.auth"
local execute = require "speezy.graphql.execute"
local graphql = require "speezy.graphql"

local M = {}

local GQL = "application/graphql-response+json"
local JSON = "application/json"
local CTYPE = { [GQL] = GQL .. "; charset=utf-8", [JSON] = JSON .. "; charset=utf-8" }

-- The media type of the answer: the acceptable one of highest q, the GraphQL one on a tie;
-- nil when the client accepts neither.
local function negotiate(accept)
  if accept == nil or not accept:find("%S") then return JSON end
  local best, best_q, best_rank
  for part in accept:gmatch("[^,]+") do
    local range, params = part:match("^%s*([^;%s]+)%s*(.*)$")
    range = range and range:lower()
    local q = tonumber(params and params:match(";%s*[qQ]%s*=%s*([%d.]+)") or "1") or 0
    local pick, rank
    if range == GQL then
      pick, rank = GQL, 3
    elseif range == JSON then
      pick, rank = JSON, 2
    elseif range == "application/*" or range == "*/*" then
      pick, rank = JSON, 1
    end
    if pick and q > 0 and (best == nil or q > best_q or (q == best_q and rank > best_rank)) then
      best, best_q, best_rank = pick, q, rank
    end
  end
  return best
end

-- Answers kept by the request's text (a header, a body), at most max, emptied when full:
-- clients send the same few again and again, and one that varies them only costs the work.
local function bounded(max)
  local kept, n = {}, 0
  local function get(k) return kept[k] end
  local function put(k, v)
    if n >= max then kept, n = {}, 0 end
    kept[k], n = v, n + 1
  end
  return get, put
end

local negotiated, remember_negotiated = bounded(64)
local NOT_ACCEPTABLE = {}

function M.negotiate(accept)
  if accept == nil then return JSON end
  local media = negotiated(accept)
  if media == nil then
    media = negotiate(accept) or NOT_ACCEPTABLE
    remember_negotiated(accept, media)
  end
  if media == NOT_ACCEPTABLE then return nil end
  return media
end

-- Answers ------------------------------------------------------------------------------------

local function gql_error(code, message)
  return { message = message, extensions = { code = code } }
end

-- errors first, then data: one encode of an ordered object (an absent member is left out);
-- the usual answer, data alone, in one concatenation.
local function encode_response(r)
  if r.errors == nil and r.extensions == nil and r.data ~= nil then
    return '{"data":' .. json.encode(r.data) .. "}"
  end
  local o, n = {}, 0
  if r.errors then o[1], o[2], n = "errors", r.errors, 2 end
  if r.data ~= nil then o[n + 1], o[n + 2], n = "data", r.data, n + 2 end
  if r.extensions then o[n + 1], o[n + 2] = "extensions", r.extensions end
  return json.encode(json.ordered(o))
end

-- The headers of an answer that has no others: one table per media type, only read.
local PLAIN = { [GQL] = { ["Content-Type"] = CTYPE[GQL] },
                [JSON] = { ["Content-Type"] = CTYPE[JSON] } }

local function answer(status, media, response, headers)
  if headers then
    headers["Content-Type"] = CTYPE[media or JSON]
  else
    headers = PLAIN[media or JSON]
  end
  return status, encode_response(response), headers
end

-- A request that is not a well-formed GraphQL-over-HTTP request: its status whatever the
-- media type.
local function refuse(status, media, code, message, headers)
  return answer(status, media, { errors = { gql_error(code, message) } }, headers)
end

-- A well-formed request that ends before execution: 400 (or status) under the GraphQL media
-- type, 200 under application/json, whose clients read the errors from the body.
local function request_errors(media, errors, status, headers)
  return answer(media == GQL and (status or 400) or 200, media, { errors = errors }, headers)
end

-- Parameters ---------------------------------------------------------------------------------

local function is_object(v)
  return type(v) == "table" and getmetatable(v) ~= json.array_mt and v ~= json.null
end

-- A GET parameter holding JSON (variables, extensions): its value (check_params wants an
-- object), or nil, message.
local function json_param(q, name)
  local text = q[name]
  if text == nil or text == "" then return nil end
  if type(text) ~= "string" then return nil, "the " .. name .. " parameter is given twice" end
  local v, err = json.decode(text)
  if v == nil then
    return nil, "the " .. name .. " parameter is not valid JSON: " .. tostring(err)
  end
  if v == json.null then return nil end
  return v
end

local GET_TEXT = { "query", "operationName" }
local PARAMS = { "query", "operationName", "variables", "extensions" }

local function get_params(req)
  local q = req.query
  local p = {}
  for _, name in ipairs(GET_TEXT) do
    local v = q[name]
    if type(v) == "table" then return nil, "the " .. name .. " parameter is given twice" end
    if v ~= "" then p[name] = v end
  end
  local err
  p.variables, err = json_param(q, "variables")
  if err then return nil, err end
  p.extensions, err = json_param(q, "extensions")
  if err then return nil, err end
  return p
end

-- Content-Type application/json, with no charset or utf-8.
local function json_content_type(ct)
  if ct == JSON then return true end
  if type(ct) ~= "string" then return false end
  local mt, params = ct:match("^%s*([^;%s]+)%s*(.*)$")
  if not mt or mt:lower() ~= JSON then return false end
  local charset = params:match(";%s*[cC][hH][aA][rR][sS][eE][tT]%s*=%s*\"?([^;\"%s]+)")
  return charset == nil or charset:lower() == "utf-8"
end

local function post_params(req)
  local body = req.body
  if body == nil or body == "" then return nil, "the request body is empty" end
  local v, err = json.decode(body)
  if v == nil then return nil, "the request body is not valid JSON: " .. tostring(err) end
  if not is_object(v) then return nil, "the request body must be a JSON object" end
  return v
end

-- A mobile client posts the same few bodies again and again: the parameters of a body
-- without variables or extensions (nothing of the request's own) are kept, read-only, by
-- its text.
local hot_bodies, remember_body = bounded(256)

local function hot_params(body)
  return body and hot_bodies(body)
end

local function keep_params(body, p)
  if p.variables ~= nil or p.extensions ~= nil or #body > 4096 then return end
  remember_body(body, p)
end

-- Types of the parameters (a null is as absent); nil, message for the first wrong one.
local function check_params(p)
  for _, name in ipairs(PARAMS) do
    if p[name] == json.null then p[name] = nil end
  end
  if p.query ~= nil and type(p.query) ~= "string" then
    return "the query parameter must be a string"
  end
  if p.operationName ~= nil and type(p.operationName) ~= "string" then
    return "the operationName parameter must be a string"
  end
  if p.variables ~= nil and not is_object(p.variables) then
    return "the variables parameter must be an object"
  end
  if p.extensions ~= nil and not is_object(p.extensions) then
    return "the extensions parameter must be an object"
  end
end

-- The caller ------------------------------------------------------------------------------

local WWW_AUTHENTICATE = 'Bearer realm="speezy", error="invalid_token"'

-- The caller of a token, nil without one; raises a non-401 failure (PostgreSQL down).
local function caller(req)
  if req.headers.authorization == nil then return nil end
  local ok, user = pcall(auth.user, req)
  if ok then return user end
  if type(user) == "table" and user.status == 401 then return false end
  error(user, 0)
end

-- The request ------------------------------------------------------------------------------

local function serve(req)
  local media = M.negotiate(req.headers.accept)
  if not media then
    return refuse(406, JSON, "NOT_ACCEPTABLE",
      "the Accept header accepts neither " .. GQL .. " nor " .. JSON)
  end
  local method = req.method == "HEAD" and "GET" or req.method
  if method ~= "GET" and method ~= "POST" then
    return refuse(405, media, "METHOD_NOT_ALLOWED", "GraphQL is served over GET and POST",
      { Allow = "GET, POST" })
  end
  local p, err
  if method == "POST" then
    if not json_content_type(req.headers["content-type"]) then
      return refuse(415, media, "UNSUPPORTED_MEDIA_TYPE",
        "a GraphQL POST must have Content-Type: application/json")
    end
    local body = req.body
    p = hot_params(body)
    if not p then
      p, err = post_params(req)
      err = err or check_params(p)
      if not err then keep_params(body, p) end
    end
  else
    p, err = get_params(req)
    err = err or check_params(p)
  end
  if err then return refuse(400, media, "BAD_REQUEST", err) end

  local schema = graphql.schema()
  if not schema then -- the routes exist only with a schema: a reload raced this request
    return refuse(503, media, "INTERNAL_SERVER_ERROR", "no GraphQL schema is loaded")
  end

  local user = caller(req)
  if user == false then
    return request_errors(media,
      { gql_error("UNAUTHENTICATED", "a valid access token is required") }, 401,
      { ["WWW-Authenticate"] = WWW_AUTHENTICATE })
  end

  -- The document: the query text, or a persisted query's.
  local ref, perr = apq.reference(p.extensions)
  if perr then return refuse(perr.status, media, perr.extensions.code, perr.message) end
  local text, store = p.query, false
  if ref and text then
    perr = apq.verify(ref, text)
    if perr then return refuse(perr.status, media, perr.extensions.code, perr.message) end
    store = graphql.known_text(ref.hash, schema) == nil
  elseif ref then
    text = graphql.known_text(ref.hash, schema)
    if not text then
      text, perr = apq.lookup(ref, req.id)
      if not text then
        return request_errors(media, { { message = perr.message, extensions = perr.extensions } })
      end
    end
  elseif not text then
    return refuse(400, media, "BAD_REQUEST", "the query parameter is missing")
  end

  local entry, errs, doc = graphql.document(text, p.variables, schema)
  doc = entry and entry.document or doc
  if method == "GET" and doc then
    local op = execute.operation(doc, p.operationName)
    if op and op.operation ~= "query" then
      return refuse(405, media, "OPERATION_NOT_ALLOWED",
        "only queries run over GET: send a " .. op.operation .. " with POST",
        { Allow = "POST" })
    end
  end
  if not entry then return request_errors(media, errs) end
  if ref then
    if store then apq.store(ref, text, req.id) end
    graphql.remember_hash(ref.hash, entry)
  end

  local result = execute.execute({ schema = schema,
    document = entry.document, operation_name = p.operationName, variables = p.variables,
    context = { req = req, user = user, request_id = req.id } })
  if result.data == nil then return request_errors(media, result.errors or {}) end
  return answer(200, media, result)
end

-- What a failure outside the resolvers answers: the host's own error codes of a backing
-- service (PostgreSQL or Redis down while checking a token) are 503, anything else 500; the
-- cause stays in the log.
local UNAVAILABLE = { DB_UNAVAILABLE = true, REDIS_UNAVAILABLE = true, REDIS_BUSY = true,
  SERIALIZATION_FAILURE = true, QUEUE_UNAVAILABLE = true, TIMEOUT = true, REDIS_TIMEOUT = true }

local function with_traceback(e)
  if type(e) == "table" then return e end
  return debug.traceback(tostring(e), 2)
end

function M.handler(req)
  local ok, status, body, headers = xpcall(serve, with_traceback, req)
  if ok then return status, body, headers end
  local e = status
  local unavailable = type(e) == "table" and UNAVAILABLE[e.code]
  core.log("error", "graphql request failed: " .. (type(e) == "table"
    and (tostring(e.code) .. ": " .. tostring(e.message)) or tostring(e)), req.id)
  return refuse(unavailable and 503 or 500, M.negotiate(req.headers.accept) or JSON,
    "INTERNAL_SERVER_ERROR", unavailable and "a backing service is unavailable, retry later"
    or "internal server error")
end

-- Registers the routes through add(method, path, handler) when the generation has a schema.
-- OPTIONS answers which methods there are; the other methods get a GraphQL 405 rather than
-- the router's REST one.
function M.register(add)
  if not graphql.schema() then return end
  for _, method in ipairs { "GET", "POST", "PUT", "PATCH", "DELETE" } do
    add(method, "/graphql", M.handler)
  end
  add("OPTIONS", "/graphql", function()
    return 204, "", { Allow = "GET, HEAD, POST" }
  end)
end

return M
