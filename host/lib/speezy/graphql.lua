-- speezy.graphql — GraphQL for scripts and for the host's /graphql routes.
--
--   local graphql = require "speezy.graphql"
--   graphql.schema()          --> this generation's schema (speezy.graphql.load), or nil
--   local result = graphql.execute{ query = "{ hello }", variables = {...},
--     operation_name = nil, context = { user = user } }
--   --> { data = ..., errors = { ... } | nil }: the same document cache, limits and validation
--       as POST /graphql, without HTTP (a REST route or a job may run a query)
--   graphql.document(text[, variables]) --> entry | nil, errors[, document]
--   graphql.cache_stats()     --> { documents, bytes, hits, misses }
--
-- The document cache maps a query's text to its parsed, limit-checked and validated document,
-- so a hot query is parsed and validated once per generation. It is bounded by count and by
-- total text size (GRAPHQL_CACHE_DOCUMENTS, GRAPHQL_CACHE_BYTES) and evicts the least recently
-- used half at a time: two tables, the young one filled by inserts and hits, the old one
-- dropped when the young one reaches half the bounds (a hit in the old one moves the entry
-- back). Each generation has its own VM and so its own cache; a schema other than the one the
-- cache was filled for empties it as well.
local core = require "speezy.core"
local limits = require "speezy.graphql.limits"

local M = {}

-- The schema of this generation, as speezy.graphql.load left it; nil while no load module or
-- no schema is there (a generation without scripts/graphql/).
function M.schema()
  return require("speezy.graphql.load").current()
end

-- The settings, read once per generation (the environment does not change under a VM); their
-- defaults are the host's (config.c), which core.setting answers for an unset one.
local function setting(name)
  return (assert(tonumber(core.setting(name)), name))
end

local settings
local function get_settings()
  if not settings then
    settings = {
      limits = { depth = setting("GRAPHQL_MAX_DEPTH"), aliases = setting("GRAPHQL_MAX_ALIASES"),
        complexity = setting("GRAPHQL_MAX_COMPLEXITY") },
      max_tokens = setting("GRAPHQL_MAX_TOKENS"),
      cache_documents = setting("GRAPHQL_CACHE_DOCUMENTS"),
      cache_bytes = setting("GRAPHQL_CACHE_BYTES"),
    }
  end
  return settings
end
M._settings = get_settings

-- Document cache --------------------------------------------------------------------------

local cache = { young = {}, old = {}, count = 0, bytes = 0, old_count = 0, old_bytes = 0,
  hits = 0, misses = 0, schema = nil }

local function cache_reset(schema)
  cache.young, cache.old = {}, {}
  cache.count, cache.bytes, cache.old_count, cache.old_bytes = 0, 0, 0, 0
  cache.schema = schema
end

local function cache_get(key)
  local e = cache.young[key]
  if e then return e end
  e = cache.old[key]
  if e then
    cache.old[key] = nil
    cache.old_count, cache.old_bytes = cache.old_count - 1, cache.old_bytes - e.size
    cache.young[key] = e
    cache.count, cache.bytes = cache.count + 1, cache.bytes + e.size
  end
  return e
end

local function cache_put(key, e)
  local s = get_settings()
  if e.size > s.cache_bytes / 2 or s.cache_documents < 2 then return end
  if cache.young[key] then return end
  if cache.count + 1 > s.cache_documents / 2 or cache.bytes + e.size > s.cache_bytes / 2 then
    cache.old, cache.old_count, cache.old_bytes = cache.young, cache.count, cache.bytes
    cache.young, cache.count, cache.bytes = {}, 0, 0
  end
  cache.young[key] = e
  cache.count, cache.bytes = cache.count + 1, cache.bytes + e.size
end

function M.cache_stats()
  return { documents = cache.count + cache.old_count, bytes = cache.bytes + cache.old_bytes,
    hits = cache.hits, misses = cache.misses }
end

-- Documents ----------------------------------------------------------------------------------

local PARSE_CODES = { GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED" }

-- The parser's refusals under the codes of the limits they stand for.
local function parse_error(e)
  local code = PARSE_CODES[e.code]
  if not code then
    code = tostring(e.message):find("tokens", 1, true) and "GRAPHQL_TOKEN_LIMIT"
      or "GRAPHQL_DEPTH_LIMIT"
  end
  return { message = e.message,
    locations = e.line and { { line = e.line, column = e.column } } or nil,
    extensions = { code = code } }
end

-- The cache entry of a query's text: { document, text, size, uses_variables }, parsed, checked
-- against the limits and validated; or nil, errors (the GraphQL errors of the first stage
-- that refused it) and the document when it parsed. A document whose complexity reads a
-- variable is checked again with each request's variables; every other check holds for the
-- text, whatever the request.
function M.document(text, variables, schema)
  schema = schema or M.schema()
  if cache.schema ~= schema then cache_reset(schema) end
  local s = get_settings()
  local e = cache_get(text)
  if e then
    cache.hits = cache.hits + 1
    if e.uses_variables then
      local errs = limits.check(schema, e.document, variables, s.limits)
      if errs then return nil, errs end
    end
    return e
  end
  cache.misses = cache.misses + 1
  local doc, perr = require("speezy.graphql.core").parse(text, nil, s.max_tokens)
  if not doc then return nil, { parse_error(perr) } end
  local errs, uses_variables = limits.check(schema, doc, variables, s.limits)
  if errs then return nil, errs, doc end
  errs = require("speezy.graphql.validate").validate(schema, doc)
  if #errs > 0 then return nil, errs, doc end
  e = { document = doc, text = text, size = #text, uses_variables = uses_variables }
  cache_put(text, e)
  return e
end

-- A persisted query's text by its hash, once it was seen (speezy.graphql.apq): a hot hash
-- costs no Redis round trip.
local function hash_key(hash)
  return "\0sha256:" .. hash
end

function M.known_text(hash, schema)
  if cache.schema ~= schema then cache_reset(schema) end
  local e = cache_get(hash_key(hash))
  return e and e.text
end

function M.remember_hash(hash, e)
  cache_put(hash_key(hash), e)
end

function M.execute(req)
  if type(req) ~= "table" or type(req.query) ~= "string" then
    error("graphql.execute{ query = text, variables, operation_name, context }", 2)
  end
  local schema = M.schema()
  if not schema then error("graphql.execute: this generation has no GraphQL schema", 2) end
  local entry, errs = M.document(req.query, req.variables, schema)
  if not entry then return { errors = errs } end
  return require("speezy.graphql.execute").execute({ schema = schema, document = entry.document,
    operation_name = req.operation_name, variables = req.variables, context = req.context or {} })
end

return M
