-- The signed-in user's account (the seed's /user/me).
local app = require "speezy.app"
local users = require "users.service"
local body = require("lib.request").object

app.get("/user/me", { auth = true, summary = "The signed-in user" }, function(req)
  return 200, { user = users.me(req.user) }
end)

app.patch("/user/me", { auth = true, summary = "Rename the signed-in user" }, function(req)
  return 200, { user = users.rename(req.user, body(req).name) }
end)
