-- speezy.otp — one-time codes for phone login. The core is C (host/otp.c), the state Redis:
-- each step is one atomic Redis script (host/otp/send.lua, host/otp/verify.lua).
--
--   local sent, err = otp.issue(phone, req.ip, limits)
--     --> { phone = "+919876543210", code = "123456", ttl = 120 }
--   local ok, err = otp.verify(phone, code)         --> true
--   local e164, err = otp.normalize(phone)          --> "+919876543210"
--   local text = otp.seal(code)   --> the code encrypted for the delivery job (AES-256-GCM
--                                     under a key derived from OTP_SECRET), base64url
--   local code, err = otp.unseal(text)              --> "123456" | nil, OTP_SEALED_INVALID
--
-- limits (every field required; times in seconds, fractions down to a millisecond):
--   { ttl = 120,                          -- how long a code lives
--     attempts = 5,                       -- wrong codes before the code is dead
--     cooldown = 30,                      -- between two sends to one phone (0: none)
--     per_phone_ip = { max = 3, window = 600 },  -- sends per phone and client address
--     per_phone = { max = 5, window = 3600 },
--     per_ip = { max = 20, window = 600 } }      -- max 0: that limit is off
-- Windows slide on Redis' clock; a refused send is not counted (host/otp/send.lua says why).
--
-- Phones: a 10-digit Indian mobile number ("9876543210") or E.164 ("+919876543210", 8 to 15
-- digits after "+"), spaces, hyphens and parentheses ignored; both forms of one number are
-- one phone, stored as E.164 (host/otp.h, otp_normalize_phone, has the whole rule).
-- A new code replaces the phone's previous one. The code is for the SMS job only: never log
-- it, never answer it.
--
-- Failures are nil, err:
--   VALIDATION_FAILED  err.field "phone" (not a phone number) or "code" (not 6 digits)
--   RATE_LIMITED       issue: err.limit ("cooldown", "per_phone_ip", "per_phone", "per_ip",
--                      the one with the longest wait), err.retry_after (whole seconds,
--                      rounded up: after it every limit passes again), err.retry_after_ms
--   OTP_INVALID        verify: wrong, dead (attempts used up) or expired, one answer for all;
--                      a right code succeeds once, even against concurrent verifies
--   OTP_UNAVAILABLE    no Redis or OTP_SECRET configured, Redis down, timed out or full
-- Misuse (limits missing or out of range, no ip, outside a handler or job) raises.
local core = require "speezy.otp.core"
local raise_misuse = require("speezy.misuse").raise

local M = {}

local LIMITS = { "cooldown", "per_phone_ip", "per_phone", "per_ip" }


local function misuse(msg)
  raise_misuse("otp.issue", msg)
end

-- seconds -> whole ms, at least min_ms
local function ms(v, what, min_ms)
  if type(v) ~= "number" or v ~= v or v * 1000 < min_ms or v > 1e9 then
    misuse(("limits.%s must be a number of seconds%s"):format(what,
      min_ms > 0 and " of at least 0.001" or " (0 or more)"))
  end
  return math.floor(v * 1000 + 0.5)
end

local function count(v, what, min)
  if type(v) ~= "number" or v ~= math.floor(v) or v < min or v > 1e9 then
    misuse(("limits.%s must be a whole number of at least %d"):format(what, min))
  end
  return v
end

-- The flat argument list core.issue takes after phone and ip.
local function policy(limits)
  if type(limits) ~= "table" then
    misuse("limits must be a table (scripts/config.lua keeps the defaults), got " .. type(limits))
  end
  local args = { ms(limits.ttl, "ttl", 1), count(limits.attempts, "attempts", 1) }
  local cooldown = ms(limits.cooldown, "cooldown", 0)
  args[3], args[4] = cooldown > 0 and 1 or 0, math.max(cooldown, 1)
  for i = 2, #LIMITS do
    local name, l = LIMITS[i], limits[LIMITS[i]]
    if type(l) ~= "table" then misuse("limits." .. name .. " must be { max = n, window = s }") end
    args[#args + 1] = count(l.max, name .. ".max", 0)
    args[#args + 1] = ms(l.window, name .. ".window", 1)
  end
  return args
end

function M.issue(phone, ip, limits)
  if type(ip) ~= "string" then misuse("ip must be the client's address (req.ip)") end
  local op, err = core.issue(phone, ip, unpack(policy(limits)))
  if not op then return nil, err end
  core.wait(op)
  local e164, code = core.result(op)
  if not e164 then return nil, code end
  return { phone = e164, code = code, ttl = limits.ttl }
end

function M.verify(phone, code)
  local op, err = core.verify(phone, code)
  if not op then return nil, err end
  core.wait(op)
  return core.result(op)
end

M.normalize = core.normalize
M.seal = core.seal
M.unseal = core.unseal

return M
