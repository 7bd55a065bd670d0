-- Phone login (the seed's /otp routes) and the session's own routes.
local app = require "speezy.app"
local login = require "auth.login"
local session = require "auth.session"
local body = require("lib.request").object

app.post("/otp/send", function(req)
  local sent = login.send(body(req).phone, req.ip)
  return 200, { message = "OTP sent successfully", ttl = sent.ttl }
end)

app.post("/otp/verify", function(req)
  return 200, login.verify(body(req), req.ip, req.headers["user-agent"])
end)

app.post("/auth/refresh", function(req)
  local grant = session.rotate(body(req).refreshToken)
  if not grant then
    app.raise(401, "UNAUTHORIZED", "the refresh token is not valid", nil,
      { ["WWW-Authenticate"] = 'Bearer realm="speezy", error="invalid_token"' })
  end
  return 200, grant
end)

app.post("/auth/logout", { auth = true }, function(req)
  session.revoke(req.user.sid, "logout")
  return 200, { message = "logged out" }
end)
