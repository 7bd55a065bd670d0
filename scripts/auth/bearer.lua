-- scripts/auth/bearer.lua — who is calling: the access token of `Authorization: Bearer`,
-- verified (speezy.jwt: HS256 pinned, expiry, issuer, audience) and its session still live.
-- Every refusal is the same 401 UNAUTHORIZED with `WWW-Authenticate` (RFC 6750), whatever was
-- wrong: a caller learns nothing about which check failed.
local app = require "speezy.app"
local jwt = require "speezy.jwt"
local session = require "auth.session"

local M = {}

local function refuse(header)
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
      or not session.live(claims.sid) then
    refuse('Bearer realm="speezy", error="invalid_token"')
  end
  return { id = id, role = claims.role, sid = claims.sid }
end

return M
