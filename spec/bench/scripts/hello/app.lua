-- Bench scenario S1: the smallest Lua route, GET /hello -> {"success":true,"message":"hello"}.
local app = require "speezy.app"

app.get("/hello", function()
  return 200, { message = "hello" }
end)

return app
