-- speezy.idempotency — safe retries of writes: the IETF Idempotency-Key draft on the
-- idempotency_keys table (migrations 0006 and 0009). A route declared `idempotent = true`
-- runs it around its handler, after auth and validation:
--
--   local claim, replay = idem.begin(req, req.user.id)
--   if replay then return replay.status, replay.body, replay.content_type, replay.headers end
--   -- run the handler (claim is nil when the request has no Idempotency-Key), then
--   idem.finish(claim, status, body_bytes, content_type, headers)   -- or, if it raised:
--   idem.release(claim)
--
-- The key is read bare (`Idempotency-Key: 8e03-...`, an RFC 9110 token, ':' and '/' allowed)
-- or as an RFC 8941 string (`Idempotency-Key: "8e03 ..."`, \" and \\ escaped): 1 to 255
-- characters once unquoted. Keys belong to a user. The same key again, for the same request
-- (method, concrete path and body bytes, compared by their SHA-256):
--   * answered before       -> replay: status, body, content type and headers as first sent,
--                              plus `Idempotent-Replayed: true`
--   * still running         -> raises 409 IDEMPOTENCY_IN_FLIGHT
-- and for another request -> raises 422 IDEMPOTENCY_MISMATCH; a malformed key raises 400
-- VALIDATION_FAILED; PostgreSQL failing raises its err (503 DB_UNAVAILABLE...), so a handler
-- never runs unprotected. A row past expires_at (24 h) counts as absent, and so does a claim
-- still in flight after the request timeout (REQUEST_TIMEOUT_MS, plus a grace): its worker
-- died, nothing will ever finish it, and the next request takes it over.
-- finish stores the answer unless its status is 5xx (then it releases the key, as release
-- does), so the client's retry runs the handler again.
local core = require "speezy.core"
local crypto = require "speezy.crypto"
local pg = require "speezy.pg"

local M = {}

local MAX_KEY = 255
-- How long past the request timeout an in-flight claim still counts as alive: a statement the
-- handler sent just before its deadline may still commit after it.
local GRACE_MS = 5000
-- core.setting answers the host's own default (host/config.c) when the variable is unset.
local abandoned_ms = tonumber(core.setting("REQUEST_TIMEOUT_MS")) + GRACE_MS

-- speezy.app requires this module to wire `idempotent = true`: taken when first raising.
local function raise(status, code, message, details)
  require("speezy.app").raise(status, code, message, details)
end

local function refuse(rule, message)
  raise(400, "VALIDATION_FAILED", "Idempotency-Key " .. message,
    { { field = "Idempotency-Key", rule = rule, message = "Idempotency-Key " .. message } })
end

-- An RFC 8941 sf-string body (between the quotes): printable ASCII, only \" and \\ escaped.
local function unquote(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == "\\" then
      local nxt = s:sub(i + 1, i + 1)
      if nxt ~= '"' and nxt ~= "\\" then return nil end
      out[#out + 1] = nxt
      i = i + 2
    elseif c == '"' or not c:match("^[\32-\126]$") then
      return nil
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

-- The key an Idempotency-Key header value names; raises 400 when it names none.
function M.parse_key(value)
  value = value:match("^[ \t]*(.-)[ \t]*$")
  local key
  if value:sub(1, 1) == '"' then
    if #value < 2 or value:sub(-1) ~= '"' then refuse("format", "has an unterminated string") end
    key = unquote(value:sub(2, -2))
    if not key then
      refuse("format", 'is not a valid string (printable ASCII; only \\" and \\\\ escaped)')
    end
  else
    key = value
    if key ~= "" and not key:match("^[%w!#$%%&'*+%-.^_`|~:/]+$") then
      refuse("format", "is neither a token nor a quoted string")
    end
  end
  if #key == 0 then refuse("minLength", "is empty") end
  if #key > MAX_KEY then refuse("maxLength", "is longer than " .. MAX_KEY .. " characters") end
  return key
end

local function check(row_or_nil, err)
  if row_or_nil == nil then error(err, 0) end -- an err table: app answers it (503 and such)
  return row_or_nil
end

-- Takes the key in one statement: a new row, or the existing one when it expired or its
-- claim was abandoned. Two requests at once can't both take it: the second waits for the
-- first's row and then finds it alive.
local CLAIM = [[
INSERT INTO idempotency_keys AS k (user_id, key, request_hash)
VALUES ($1, $2, $3)
ON CONFLICT (user_id, key) DO UPDATE
   SET request_hash = EXCLUDED.request_hash, status = 'in_flight', response_status = NULL,
       response_body = NULL, response_content_type = NULL, response_headers = NULL,
       created_at = now(), expires_at = now() + interval '24 hours'
 WHERE k.expires_at < now()
    OR (k.status = 'in_flight' AND k.created_at < now() - $4::float8 * interval '1 millisecond')
RETURNING k.created_at]]

local EXISTING = [[
SELECT request_hash, status, response_status, response_body, response_content_type,
       response_headers
  FROM idempotency_keys WHERE user_id = $1 AND key = $2]]

local function replay_of(row)
  local headers = {}
  if type(row.response_headers) == "table" then
    for k, v in pairs(row.response_headers) do headers[k] = v end
  end
  headers["Idempotent-Replayed"] = "true"
  local ctype = row.response_content_type
  return { status = row.response_status, body = row.response_body,
           content_type = ctype ~= pg.null and ctype or nil, headers = headers }
end

-- claim, replay: see the top of this file. user_id: whose key it is (req.user.id).
function M.begin(req, user_id)
  if user_id == nil then
    error("idempotency.begin: a user id is required (idempotent routes need auth)", 2)
  end
  local value = req.headers["idempotency-key"]
  if value == nil then return nil, nil end
  local key = M.parse_key(value)
  local hash = crypto.sha256_hex(req.method .. "\n" .. req.path .. "\n" .. (req.body or ""))
  -- The row found behind a conflict can vanish (released, purged) before it is read: then the
  -- key is free again, so claim once more. Twice is plenty; a third loss answers as in flight.
  for _ = 1, 3 do
    local rows = check(pg.query(CLAIM, user_id, key, hash, abandoned_ms))
    if rows[1] then
      return { user_id = user_id, key = key, created_at = rows[1].created_at }, nil
    end
    local row = check(pg.query(EXISTING, user_id, key))[1]
    if row then
      if row.request_hash ~= hash then
        raise(422, "IDEMPOTENCY_MISMATCH",
          "this Idempotency-Key was used for another request (method, path or body)")
      end
      if row.status == "done" then return nil, replay_of(row) end
      break
    end
  end
  raise(409, "IDEMPOTENCY_IN_FLIGHT",
    "a request with this Idempotency-Key is still running; retry later")
end

-- Each statement names the claim by its created_at: a claim taken over after it was
-- abandoned is the new owner's, and a late finish or release of the old one changes nothing.
local RELEASE = [[
DELETE FROM idempotency_keys
 WHERE user_id = $1 AND key = $2 AND status = 'in_flight' AND created_at = $3]]

local STORE = [[
UPDATE idempotency_keys
   SET status = 'done', response_status = $4, response_body = $5, response_content_type = $6,
       response_headers = $7
 WHERE user_id = $1 AND key = $2 AND status = 'in_flight' AND created_at = $3]]

-- Lets the key run again (a handler error). true, or nil, err when PostgreSQL failed (the
-- claim is then taken over once abandoned).
function M.release(claim)
  if claim == nil then return true end
  local rows, err = pg.query(RELEASE, claim.user_id, claim.key, claim.created_at)
  if not rows then
    core.log("warn", "idempotency: could not release a key: " .. tostring(err))
    return nil, err
  end
  return true
end

-- Stores the answer as sent (body: its exact bytes) for replays; a 5xx releases instead.
-- true, or nil, err when PostgreSQL failed: the answer still goes out, and a retry finds the
-- key in flight until its claim is abandoned.
function M.finish(claim, status, body, content_type, headers)
  if claim == nil then return true end
  if type(status) ~= "number" then error("idempotency.finish: status must be a number", 2) end
  if status >= 500 then return M.release(claim) end
  local stored = pg.null
  if type(headers) == "table" and next(headers) ~= nil then
    stored = {}
    for k, v in pairs(headers) do
      if type(k) == "string" then stored[k] = tostring(v) end
    end
  end
  local rows, err = pg.query(STORE, claim.user_id, claim.key, claim.created_at, status,
    pg.bytea(body or ""), content_type or pg.null, stored)
  if not rows then
    core.log("warn", "idempotency: could not store an answer: " .. tostring(err))
    return nil, err
  end
  return true
end

return M
