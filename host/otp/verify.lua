-- verify.lua — one guess at a phone's code, in one atomic step (host/otp.c).
--
-- KEYS[1]  the code (send.lua: { h = HMAC hex, left = wrong guesses left })
-- ARGV[1]  HMAC hex of (phone, guess) under the same secret
--
-- Returns 1 and deletes the code when the guess is it (single use: of any number of
-- concurrent verifies exactly one sees it); else 0, and a wrong guess counts: the one that
-- uses up `left` deletes the code, so no later guess, right or not, can succeed. Wrong, dead
-- and expired are the same 0: the caller can't tell them apart.
--
-- Comparing with == is not a timing oracle on the code: both sides are HMACs under a secret
-- the guesser does not hold, so how many leading characters match says nothing about which
-- code would match more of them, and the stored hash never leaves Redis.
local stored = redis.call("HGET", KEYS[1], "h")
if not stored then return 0 end
if stored == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
if redis.call("HINCRBY", KEYS[1], "left", -1) <= 0 then redis.call("DEL", KEYS[1]) end
return 0
