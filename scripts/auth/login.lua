-- scripts/auth/login.lua — phone login: a one-time code sent by SMS, exchanged for a session.
--
-- The code's life is the OTP core's (speezy.otp: limits, hashing, attempts, single use, all in
-- Redis); this module adds the account: the first verify of a phone creates its user with the
-- role asked for, later ones must ask for the same role (or none). Neither step reads users
-- before the code is proven, so no answer, status or timing tells whether a phone has an
-- account.
local app = require "speezy.app"
local otp = require "speezy.otp"
local pg = require "speezy.pg"
local queue = require "speezy.queue"
local config = require "config"
local session = require "auth.session"

local M = {}

local PHONE_RULE = "phone must be a 10-digit number or +<country><number>"

local function invalid(field, message)
  app.raise(400, "VALIDATION_FAILED", message,
    { { field = field, rule = "format", message = message } })
end

-- Sends a code: { ttl } or raises 429 RATE_LIMITED / 400 VALIDATION_FAILED.
function M.send(phone, ip)
  if type(phone) ~= "string" then invalid("phone", "phone must be a string") end
  local c = config.otp
  local issued, err = otp.issue(phone, ip, c.limits)
  if not issued then
    if err.code == "RATE_LIMITED" then
      app.raise(429, "RATE_LIMITED", "too many codes requested: retry in " .. err.retry_after
        .. " s", { retryAfter = err.retry_after, limit = err.limit },
        { ["Retry-After"] = tostring(err.retry_after) })
    end
    if err.code == "VALIDATION_FAILED" then invalid("phone", PHONE_RULE) end
    error(err, 0)
  end
  -- The code travels sealed (AES-GCM under a key only the host holds) and the job goes once
  -- delivered: neither Redis nor a log ever holds it in the clear.
  local id, qerr = queue.add("otp.send", { to = issued.phone, sealed = otp.seal(issued.code),
    ttl = issued.ttl }, {
    attempts = c.delivery.attempts, backoff = c.delivery.backoff,
    removeOnComplete = true, removeOnFail = { age = 86400 },
  })
  if not id then error(qerr, 0) end
  return { ttl = issued.ttl }
end

local function find_or_create(tx, phone, role)
  local rows = assert(tx:query([[SELECT id, phone, name, role FROM users
                                  WHERE phone = $1 AND deleted_at IS NULL FOR UPDATE]], phone))
  local user = rows[1]
  if user then
    if role and role ~= user.role then
      return nil, "this phone is registered with another role"
    end
    return user
  end
  rows = assert(tx:query([[INSERT INTO users (phone, role) VALUES ($1, $2)
                           ON CONFLICT (phone) WHERE deleted_at IS NULL DO NOTHING
                           RETURNING id, phone, name, role]], phone, role or "CUSTOMER"))
  if rows[1] then return rows[1] end
  -- another verify of the same phone created it between our two statements
  return find_or_create(tx, phone, role)
end

-- Exchanges a code for a session: the grant (the seed's verify answer) or raises.
function M.verify(body, ip, user_agent)
  local phone, code, role = body.phone, body.otp, body.role
  if type(phone) ~= "string" then invalid("phone", "phone must be a string") end
  if type(code) ~= "string" or not code:match("^%d%d%d%d%d%d$") then
    invalid("otp", "otp must be a string of 6 digits")
  end
  if role ~= nil and (type(role) ~= "string" or not config.roles[role]) then
    invalid("role", "role must be CUSTOMER, STORE_OWNER or DELIVERY_PARTNER")
  end
  local e164 = otp.normalize(phone)
  if not e164 then invalid("phone", PHONE_RULE) end
  local ok, err = otp.verify(e164, code)
  if not ok then
    if err.code == "OTP_INVALID" then
      app.raise(401, "OTP_INVALID", "the code is wrong, used or expired")
    end
    error(err, 0)
  end
  local grant, why = pg.tx(function(tx)
    local user, mismatch = find_or_create(tx, e164, role)
    if not user then return false, mismatch end
    return session.open(tx, user, ip, user_agent)
  end)
  if grant == nil then error(why, 0) end
  if grant == false then app.raise(403, "ROLE_MISMATCH", why) end
  return grant
end

return M
