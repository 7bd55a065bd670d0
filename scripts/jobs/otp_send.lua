-- otp.send: delivers a login code by SMS (scripts/auth/login.lua adds the job).
-- The code arrives sealed; it is opened here, handed to the SMS adapter (SMS_PROVIDER) and
-- never logged. A failed delivery is retried with backoff (the options login.lua adds it
-- with); the job is removed once delivered.
local otp = require "speezy.otp"
local queue = require "speezy.queue"
local sms = require "speezy.sms"
local config = require "config"

queue.process("otp.send", { concurrency = 16 }, function(job)
  local code, err = otp.unseal(job.data.sealed)
  if not code then return nil, err end
  local minutes = math.max(1, math.floor((job.data.ttl or config.otp.limits.ttl) / 60))
  local sent, serr = sms.send { to = job.data.to, otp = code,
    body = config.otp.message:format(code, minutes) }
  if not sent then return nil, serr end
  return { delivered = true }
end)
