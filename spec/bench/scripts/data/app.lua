-- Bench scenarios S3 (a Redis GET) and S4 (one users row by primary key from PostgreSQL),
-- the same routes as spec/bench/fastify/app.js.
local app = require "speezy.app"
local pg = require "speezy.pg"
local redis = require "speezy.redis"

app.get("/redis", function()
  local value, err = redis.call("GET", "bench:key")
  if err then return app.fail(err) end
  return 200, { value = value }
end)

app.get("/users/:id", function(req)
  local rows, err = pg.query("SELECT id, phone, name, role FROM users WHERE id = $1",
    req.params.id)
  if not rows then return app.fail(err) end
  if #rows == 0 then return app.fail(404, "NOT_FOUND", "user not found") end
  return 200, { user = rows[1] }
end)

return app
