-- scripts/auth/session.lua — login sessions: one live session per user, access tokens (JWT)
-- naming their session, opaque refresh tokens that rotate on every use.
--
-- A refresh token is 32 random bytes (base64url); only its SHA-256 is stored. Exchanging it
-- (rotate) stores the new hash in sessions and moves the old one to session_refresh_retired:
-- an old token presented again means two parties hold the session (RFC 9700 4.14.2), and the
-- whole session is revoked.
--
-- Whether a session is live is the host's check (speezy.auth, run before every route declared
-- with `auth`): this module tells it each change through auth.remember, which keeps
-- sess:<sid> = "live" or "revoked" in Redis beside the PostgreSQL truth.
local auth = require "speezy.auth"
local core = require "speezy.core"
local crypto = require "speezy.crypto"
local jwt = require "speezy.jwt"
local pg = require "speezy.pg"
local config = require "config"

local M = {}

local LIVE, REVOKED = auth.LIVE, auth.REVOKED

local function new_refresh()
  local token = crypto.base64url_encode(crypto.random_bytes(32))
  return token, crypto.sha256_hex(token)
end

-- The answer of verify and refresh (the seed's shape).
local function grant(user, sid, refresh)
  local access = assert(jwt.sign({ sub = tostring(user.id), role = user.role, sid = sid },
    { ttl = config.session.access_ttl }))
  return {
    accessToken = access,
    refreshToken = refresh,
    expires_in = config.session.access_ttl,
    user = { id = user.id, phone = user.phone, name = user.name, role = user.role },
  }
end

-- A live session is remembered for as long as it can live without a refresh, a revoked one for
-- as long as an access token issued before the revocation can still be presented.
local function remember(sid, state)
  local ttl = state == LIVE and config.session.refresh_ttl or config.session.access_ttl + 60
  auth.remember(sid, state, ttl)
end

-- A header's bytes as the column takes them: cut to 512 without splitting a character (bytes
-- outside printable ASCII become "?"), so no client can make the INSERT fail.
local function printable(s)
  return (s:gsub("[^\32-\126]", "?"):sub(1, 512))
end

-- Inside the verify transaction: revokes the user's live session (one per user) and opens a
-- new one. Returns the grant and, for after the commit, the revoked session's id.
function M.open(tx, user, ip, user_agent)
  local old = assert(tx:query([[UPDATE sessions SET revoked_at = now(), revoked_reason = 'replaced'
                                 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id]], user.id))
  local refresh, hash = new_refresh()
  local rows = assert(tx:query([[INSERT INTO sessions (user_id, refresh_hash, expires_at, ip,
                                                       user_agent)
                                 VALUES ($1, $2, now() + make_interval(secs => $3), $4::inet, $5)
                                 RETURNING id]],
    user.id, hash, config.session.refresh_ttl, ip, user_agent and printable(user_agent)))
  local sid = rows[1].id
  tx:after_commit(function()
    if old[1] then remember(old[1].id, REVOKED) end
    remember(sid, LIVE)
  end)
  return grant(user, sid, refresh)
end

-- Exchanges a refresh token for a new pair: the grant, or nil, reason ("unknown", "reused",
-- "revoked", "expired").
function M.rotate(token)
  if type(token) ~= "string" or #token < 16 or #token > 128 then return nil, "unknown" end
  local hash = crypto.sha256_hex(token)
  local reused
  local result, why = pg.tx(function(tx)
    local rows = assert(tx:query([[
      SELECT s.id, s.revoked_at IS NOT NULL AS revoked, s.expires_at <= now() AS expired,
             u.id AS user_id, u.phone, u.name, u.role
        FROM sessions s JOIN users u ON u.id = s.user_id AND u.deleted_at IS NULL
       WHERE s.refresh_hash = $1
         FOR UPDATE OF s]], hash))
    local s = rows[1]
    if not s then
      local old = assert(tx:query([[SELECT session_id FROM session_refresh_retired
                                     WHERE refresh_hash = $1]], hash))
      if not old[1] then return false, "unknown" end
      reused = old[1].session_id
      assert(tx:query([[UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_reuse'
                         WHERE id = $1 AND revoked_at IS NULL]], reused))
      return false, "reused"
    end
    if s.revoked then return false, "revoked" end
    if s.expired then return false, "expired" end
    local refresh, new_hash = new_refresh()
    assert(tx:query([[UPDATE sessions SET refresh_hash = $2, rotation = rotation + 1,
                                          last_used_at = now(),
                                          expires_at = now() + make_interval(secs => $3)
                       WHERE id = $1]], s.id, new_hash, config.session.refresh_ttl))
    assert(tx:query([[INSERT INTO session_refresh_retired (refresh_hash, session_id)
                      VALUES ($1, $2)]], hash, s.id))
    return grant({ id = s.user_id, phone = s.phone, name = s.name, role = s.role }, s.id,
      refresh)
  end)
  if result == nil then error(why, 0) end -- the database failed: answered as its err
  if reused then
    remember(reused, REVOKED)
    core.log("warn", "refresh token reused: session " .. reused .. " revoked")
  end
  if not result then return nil, why end
  return result
end

-- Revokes a session (logout); true when it was live.
function M.revoke(sid, reason)
  local rows = assert(pg.query([[UPDATE sessions SET revoked_at = now(), revoked_reason = $2
                                  WHERE id = $1 AND revoked_at IS NULL RETURNING id]],
    sid, reason))
  remember(sid, REVOKED)
  return rows[1] ~= nil
end

return M
