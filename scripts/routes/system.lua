-- Small routes that show the host at work.
local app = require "speezy.app"
local core = require "speezy.core"

app.get("/time", function()
  return 200, { now = core.now(), generation = core.generation() }
end)

app.get("/sleep/:ms", function(req)
  core.sleep(tonumber(req.params.ms) or 0)
  return 200, { slept = tonumber(req.params.ms) }
end)

app.post("/echo", function(req)
  return 200, { got = req:json(), q = req.query, ua = req.headers["User-Agent"], ip = req.ip }
end)

app.get("/boom", function()
  error("kaboom")
end)
