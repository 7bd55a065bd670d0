-- The seed's GraphQL examples: hello, redisPing (PONG from the real Redis) and addJob, which
-- queues the test job of scripts/jobs/test.lua.
local app = require "speezy.app"
local config = require "config"
local queue = require "speezy.queue"
local redis = require "speezy.redis"

local function unavailable(err)
  app.raise(503, err.code or "UNAVAILABLE", err.message or tostring(err))
end

-- A fixed one-minute window per client address: the mutation needs no account.
local function within_limit(ip)
  local key = "gql:addjob:" .. ip .. ":" .. math.floor(os.time() / 60)
  local replies, err = redis.pipeline({ { "INCR", key }, { "EXPIRE", key, 60 } })
  if not replies then unavailable(err) end
  return replies[1] <= config.graphql.add_job.per_minute
end

return {
  Query = {
    hello = function()
      return "Hello from Speezy"
    end,

    redisPing = function()
      local pong, err = redis.call("PING")
      if not pong then unavailable(err) end
      return pong
    end,
  },

  Mutation = {
    addJob = function(_, args, ctx)
      local limits = config.graphql.add_job
      if #args.message > limits.max_message then
        app.raise(400, "BAD_USER_INPUT",
          ("message must be at most %d bytes"):format(limits.max_message))
      end
      if not within_limit(ctx.req.ip) then
        app.raise(429, "RATE_LIMITED", "too many jobs from this address; try again in a minute")
      end
      local id, err = queue.add("test.message", { message = args.message },
        { removeOnComplete = { count = 1000 }, removeOnFail = { count = 1000 } })
      if not id then unavailable(err) end
      return true
    end,
  },
}
