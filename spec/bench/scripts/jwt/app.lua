-- Bench scenario S2: GET /claims verifies the access token of `Authorization: Bearer` and
-- answers its claims, the same work as spec/bench/fastify/app.js with @fastify/jwt.
-- jwt.verify pins HS256, picks the key by kid, checks the signature, exp (required), nbf, iss
-- and aud (host/jwt.h). The token is what follows the scheme, unchecked here: jwt.verify
-- refuses anything but three base64url parts. (scripts/auth/bearer.lua first matches each
-- character against a class: about 17k instructions for this token, more than a whole S1
-- request; spec/bench/RESULTS.md, session 7.)
local app = require "speezy.app"
local jwt = require "speezy.jwt"

app.get("/claims", function(req)
  local h = req.headers.authorization
  local _, scheme = (h or ""):find("^[Bb][Ee][Aa][Rr][Ee][Rr] +")
  local token = scheme and h:sub(scheme + 1)
  local claims, err = jwt.verify(token)
  if not claims then return app.fail(401, "UNAUTHORIZED", err.message) end
  return 200, { claims = claims }
end)

return app
