-- send.lua — one send of a code: every limit checked, and when all pass the code's hash
-- stored and the send counted, in one atomic step (host/otp.c builds the keys and arguments).
--
-- KEYS[1]     the code: a hash { h = HMAC hex of (phone, code), left = wrong guesses left }
-- KEYS[2..5]  the limits' logs, in otp_limit_id_t order (cooldown, per_phone_ip, per_phone,
--             per_ip): sorted sets of the sends counted, scored by their time in ms
-- ARGV[1]     the HMAC hex;  ARGV[2] the code's TTL in ms;  ARGV[3] wrong guesses it survives
-- ARGV[4..11] max and window (ms) of each limit in KEYS order; max 0: the limit is off
-- ARGV[12]    a member unique to this send (two sends may share a millisecond)
--
-- Returns { 1 } when stored, or { 0, i, ms }: limit i (1 = cooldown ... 4 = per_ip) refuses,
-- and in ms every limit passes again (the longest wait of those that refuse).
--
-- Sliding windows on Redis' clock: a limit refuses while max sends lie within the last window
-- ms, and passes again the moment the oldest of them is window ms old. A refused send changes
-- nothing but the removal of sends that have left their window: it is not counted, so a
-- client that retries early does not push its own wait further, and one noisy client behind a
-- shared address (carrier NAT) cannot keep that address locked out for good; at most max
-- codes are sent per window whatever anyone retries. Each log holds at most max entries.
-- TIME in a script that writes needs effects replication (the default since Redis 5).
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local wait, which = 0, 0
for i = 1, 4 do
  local key, max, window = KEYS[i + 1], tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if max > 0 then
    redis.call("ZREMRANGEBYSCORE", key, "-inf", now - window)
    local n = redis.call("ZCARD", key)
    if n >= max then
      -- the send that must leave the window before one more fits
      local oldest = redis.call("ZRANGE", key, n - max, n - max, "WITHSCORES")
      local ms = tonumber(oldest[2]) + window - now
      if ms > window then ms = window end -- Redis' clock stepped back: never past a window
      if ms > wait then wait, which = ms, i end
    end
  end
end
if which > 0 then return { 0, which, wait } end

redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "h", ARGV[1], "left", ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[2])
for i = 1, 4 do
  local key, max, window = KEYS[i + 1], tonumber(ARGV[2 + 2 * i]), ARGV[3 + 2 * i]
  if max > 0 then
    redis.call("ZADD", key, now, ARGV[12])
    redis.call("PEXPIRE", key, window)
  end
end
return { 1 }
