-- speezy.sms — text messages for scripts (the otp.send job's delivery), through the adapter
-- SMS_PROVIDER names; the provider's URL and credential stay in the host.
--
--   local ok, err = sms.send{
--     to = "+919876543210",                      -- the number, as the caller normalized it
--     body = "Your Speezy code is 123456",       -- the text (1 to 1600 bytes), code inside
--     otp = "123456",                            -- optional: the code alone, for the outbox
--   }
--   --> true, or nil, err with err.code
--   SMS_FAILED       the provider answered other than 2xx; err.status is its status, and
--                    err.message names only that (its body may echo the code)
--   SMS_UNAVAILABLE  no answer (unreachable, TLS refused, SMS_HTTP_TIMEOUT_MS passed), the
--                    outbox file could not be written, or no SMS_PROVIDER in production
--
-- Adapters: `outbox` (development and test's default; production refuses it) appends one
-- JSON line {"to","otp","body","at"} to SMS_OUTBOX_PATH; `http` POSTs {"to","body"} as JSON
-- to SMS_HTTP_URL with SMS_HTTP_AUTH as the Authorization header, over verified TLS
-- (HTTP_CA_FILE adds a CA), following no redirect. A send through http yields the calling
-- request's or job's coroutine like pg and redis. Misuse raises with the script's file:line:
-- a field missing, unknown or of the wrong type (otp is a string: a number loses leading
-- zeros), a value too long, and any call at a script's top level.
local core = require "speezy.sms.core"

local M = {}

function M.send(t)
  local op, err = core.send(t)
  if op == true or not op then return op, err end
  core.wait(op)
  return core.result(op)
end

return M
