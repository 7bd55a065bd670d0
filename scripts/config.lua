-- scripts/config.lua — business settings product teams change by editing this file and
-- reloading (`make reload`); secrets and addresses stay in the environment (README, settings).
return {
  otp = {
    -- what speezy.otp enforces (seconds; windows slide; max 0 turns a limit off)
    limits = {
      ttl = 120,                                  -- how long a code can be used
      attempts = 5,                               -- wrong codes before the code is dead
      cooldown = 30,                              -- before the same phone may ask again
      per_phone_ip = { max = 3, window = 600 },   -- one phone from one client address
      per_phone = { max = 5, window = 3600 },     -- one phone from anywhere
      per_ip = { max = 20, window = 600 },        -- one client address, any phone
    },
    -- the SMS text; %s is the code, %d the minutes it lives
    message = "Your Speezy code is %s. It expires in %d minutes. Never share it.",
    delivery = { attempts = 5, backoff = { type = "exponential", delay = 1000, jitter = 0.2 } },
  },
  session = {
    access_ttl = 900,            -- seconds an access token lives (expires_in)
    refresh_ttl = 30 * 86400,    -- seconds a session lives without a refresh
  },
  graphql = {
    -- addJob is public (the seed's example): a client address may queue this many per minute
    add_job = { per_minute = 30, max_message = 1000 },
  },
  roles = { CUSTOMER = true, STORE_OWNER = true, DELIVERY_PARTNER = true }, -- chosen at sign-up
}
