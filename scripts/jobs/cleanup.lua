-- Expired idempotency keys (24 h, see migrations/0006) are deleted once a minute, by whichever
-- worker of whichever instance gets the scheduled job first; at most 10,000 rows per run so a
-- backlog never holds a long lock.
local queue = require "speezy.queue"
local pg = require "speezy.pg"

queue.process("cleanup.idempotency", function()
  local _, deleted = assert(pg.query([[
    DELETE FROM idempotency_keys
     WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT 10000)]]))
  return { deleted = deleted }
end)

queue.schedule("cleanup.idempotency", { every = 60000 }, {}, { removeOnComplete = { count = 100 } })
