-- speezy.auth — who is calling: the access token of `Authorization: Bearer`, verified
-- (speezy.jwt: HS256 pinned, expiry, issuer, audience) and its session still live. The host
-- runs it before a route declared with `auth` (speezy.app) and puts the caller on req.user;
-- the sessions table and the user_role enum are the host's schema, so the check lives here.
--
--   auth.user(req)        --> { id, role, sid } of the caller, or raises 401 UNAUTHORIZED
--   auth.live(sid[, exp]) --> whether the session is live (one Redis GET, PostgreSQL on a miss)
--   auth.remember(sid, auth.LIVE | auth.REVOKED, ttl[, nx])  -- what scripts/auth/session.lua
--                            stores when it opens, rotates or revokes a session
--   auth.ROLES            --> { CUSTOMER = true, STORE_OWNER = true, DELIVERY_PARTNER = true,
--                               ADMIN = true } (migrations/0001: user_role)
--
-- Every 401 is the same UNAUTHORIZED with `WWW-Authenticate` (RFC 6750), whatever was wrong: a
-- caller learns nothing about which check failed.
--
-- Redis remembers each session's state so the check on every request is one GET:
-- sess:<sid> = "live" or "revoked". PostgreSQL is the truth: a key Redis lost (flushed,
-- restarted without persistence) is read back from sessions and stored with SET NX, so it never
-- overwrites a revocation that landed meanwhile; while Redis is down every check reads
-- PostgreSQL.
local core = require "speezy.core"
local jwt = require "speezy.jwt"
local pg = require "speezy.pg"
local redis = require "speezy.redis"

local M = {}

M.LIVE, M.REVOKED = "live", "revoked"
M.ROLES = { CUSTOMER = true, STORE_OWNER = true, DELIVERY_PARTNER = true, ADMIN = true }

local function key(sid)
  return "sess:" .. sid
end

-- Remembers a state in Redis; a failure only costs a PostgreSQL read later.
function M.remember(sid, state, ttl, nx)
  local _, err
  if nx then
    _, err = redis.call("SET", key(sid), state, "EX", ttl, "NX")
  else
    _, err = redis.call("SET", key(sid), state, "EX", ttl)
  end
  if err then core.log("warn", "session state not cached: " .. tostring(err.code)) end
end

-- Whether the session an access token names is still live. exp (the token's expiry, epoch
-- seconds) bounds how long a revocation read back from PostgreSQL is remembered: past it that
-- token is refused anyway, and a later token of the session reads PostgreSQL again.
function M.live(sid, exp)
  local state = redis.call("GET", key(sid))
  if state == M.LIVE then return true end
  if state == M.REVOKED then return false end
  local rows = assert(pg.query([[
    SELECT revoked_at IS NULL AND expires_at > now() AS live,
           ceil(extract(epoch FROM expires_at - now()))::int AS seconds_left
      FROM sessions WHERE id = $1]], sid))
  local row = rows[1]
  local live = row ~= nil and row.live
  if live then
    M.remember(sid, M.LIVE, math.max(row.seconds_left, 1), true)
  else
    local left = type(exp) == "number" and exp - math.floor(core.now()) or 0
    M.remember(sid, M.REVOKED, math.max(left, 0) + 60, true)
  end
  return live
end

local function refuse(header)
  local app = require "speezy.app" -- required here: speezy.app requires this module
  app.raise(401, "UNAUTHORIZED", "a valid access token is required", nil,
    { ["WWW-Authenticate"] = header })
end

-- { id, role, sid } of the caller, or raises 401.
function M.user(req)
  local h = req.headers.authorization
  if not h then refuse('Bearer realm="speezy"') end
  -- Plain finds, no character class over the token's few hundred bytes: jwt.verify refuses
  -- anything but base64url and dots anyway, and a pattern scan cost more than a whole bare
  -- request (spec/bench/RESULTS.md, session 7).
  local start = h:find("[^ ]", 8)
  if not start or h:sub(1, 7):lower() ~= "bearer " then
    refuse('Bearer realm="speezy", error="invalid_request"')
  end
  local token = h:sub(start)
  if token:byte(-1) == 32 then token = token:match("^(.-) +$") end
  local claims = jwt.verify(token)
  local id = claims and tonumber(claims.sub)
  if not id or type(claims.sid) ~= "string" or type(claims.role) ~= "string"
      or not M.live(claims.sid, claims.exp) then
    refuse('Bearer realm="speezy", error="invalid_token"')
  end
  return { id = id, role = claims.role, sid = claims.sid }
end

return M
