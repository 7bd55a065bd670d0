-- The signed-in user's account (the seed's /user/me).
local app = require "speezy.app"
local bearer = require "auth.bearer"
local users = require "users.service"
local body = require("lib.request").object

app.get("/user/me", function(req)
  return 200, { user = users.me(bearer.user(req)) }
end)

app.patch("/user/me", function(req)
  local caller = bearer.user(req)
  return 200, { user = users.rename(caller, body(req).name) }
end)
