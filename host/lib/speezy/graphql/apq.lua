-- speezy.graphql.apq — automatic persisted queries, Apollo's protocol: a client sends
-- extensions.persistedQuery = { version = 1, sha256Hash = <hex> } with or without the query.
-- The hash alone names a query sent before (PERSISTED_QUERY_NOT_FOUND until it was); the hash
-- with its query is checked and stored in Redis under gql:apq:<hash> for
-- GRAPHQL_APQ_TTL_SECONDS (default 7 days), where every instance finds it.
--
--   local ref, err = apq.reference(extensions)   -- nil, nil: no persisted query asked for
--   local err = apq.verify(ref, query)          -- the hash is the query's SHA-256
--   local query, err = apq.lookup(ref)          -- the stored text, or PERSISTED_QUERY_NOT_FOUND
--   apq.store(ref, query)                       -- after the query parsed and validated
--
-- Errors are GraphQL errors with status (the HTTP status a request error answers with, under
-- application/graphql-response+json).
local core = require "speezy.core"
local crypto = require "speezy.crypto"
local json = require "speezy.json"
local redis = require "speezy.redis"

local M = {}

M.PREFIX = "gql:apq:"

local function request_error(status, code, message)
  return { status = status, message = message, extensions = { code = code } }
end

-- The persisted query an extensions object asks for: { hash } (lower-case hex), or nil when
-- it asks for none; a malformed one is a bad request.
function M.reference(extensions)
  local pq = type(extensions) == "table" and extensions.persistedQuery or nil
  if pq == nil or pq == json.null then return nil end
  if type(pq) ~= "table" then
    return nil, request_error(400, "BAD_REQUEST", "extensions.persistedQuery must be an object")
  end
  if pq.version ~= 1 then
    return nil, request_error(400, "PERSISTED_QUERY_NOT_SUPPORTED",
      "Unsupported persisted query version: only version 1 is supported")
  end
  local hash = pq.sha256Hash
  if type(hash) ~= "string" or #hash ~= 64 or hash:find("[^%x]") then
    return nil, request_error(400, "BAD_REQUEST",
      "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
  end
  return { hash = hash:lower() }
end

function M.verify(ref, query)
  if not crypto.equal(crypto.sha256_hex(query), ref.hash) then
    return request_error(400, "PERSISTED_QUERY_HASH_MISMATCH",
      "provided sha256Hash does not match the query")
  end
end

local function not_found()
  return request_error(400, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
end

-- Redis unreachable reads as not found: the client then sends the query with its hash, and
-- the request is served without Redis.
function M.lookup(ref, request_id)
  local text, err = redis.call("GET", M.PREFIX .. ref.hash)
  if err then
    core.log("warn", "persisted query lookup failed: " .. tostring(err.code), request_id)
    return nil, not_found()
  end
  if type(text) ~= "string" then return nil, not_found() end
  return text
end

function M.ttl()
  return (assert(tonumber(core.setting("GRAPHQL_APQ_TTL_SECONDS")), "GRAPHQL_APQ_TTL_SECONDS"))
end

-- A failed store costs the next client one round trip with the query: logged, not raised.
function M.store(ref, query, request_id)
  local _, err = redis.call("SET", M.PREFIX .. ref.hash, query, "EX", M.ttl())
  if err then
    core.log("warn", "persisted query not stored: " .. tostring(err.code) .. ": "
      .. tostring(err.message), request_id)
  end
end

return M
