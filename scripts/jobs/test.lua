-- The seed's test job: GraphQL's addJob(message) enqueues it on "test.message"; the handler
-- logs the message and completes (as the seed's BullMQ worker logged its jobs).
local queue = require "speezy.queue"
local core = require "speezy.core"

queue.process("test.message", { concurrency = 4 }, function(job)
  core.log("info", ("test job %s: %s"):format(job.id, tostring(job.data.message)))
  return { logged = true }
end)
