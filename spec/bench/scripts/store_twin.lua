-- S7's twin (spec/bench/run.sh copies it into a copy of scripts/ as routes/bench_store.lua):
-- GET /store/:id without route options, so S7 measures what its params schema costs.
local app = require "speezy.app"
local stores = require "stores.service"

app.get("/bench/store/:id", function(req)
  return 200, { store = stores.get(tonumber(req.params.id)) }
end)
