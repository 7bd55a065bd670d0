-- Small routes that show the host at work: edit one and watch it reload.
local app = require "speezy.app"
local core = require "speezy.core"

-- GET /time: the server's clock and the script generation that answered.
app.get("/time", function()
  return 200, { now = core.now(), generation = core.generation() }
end)
