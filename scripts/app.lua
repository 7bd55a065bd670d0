-- scripts/app.lua — the application's entry point: every route and job module is required here.
local app = require "speezy.app"

app.get("/hello", function()
  return 200, { message = "hello" }
end)

require "routes.system"
require "routes.auth"
require "routes.user"
require "routes.store"
require "jobs.test"
require "jobs.cleanup"
require "jobs.otp_send"
