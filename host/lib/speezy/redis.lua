-- speezy.redis: Redis for scripts. Each call yields the request's coroutine until the reply
-- comes, so handlers read like synchronous code while the worker serves others.
--
--   redis.call("SET", key, value, "EX", 60)      --> "OK"            | nil, err
--   redis.call("GET", key)                       --> value or nil    | nil, err
--   redis.pipeline{ {"INCR", k}, {"EXPIRE", k, 60} } --> { 1, 1 }    | nil, err
--   redis.eval(script, {key}, {arg})             --> the script's reply | nil, err
--
-- Arguments are strings (binary safe) or numbers (integers are sent without exponent).
-- Replies: nil -> nil (redis.null inside arrays), integer -> number (a string beyond 2^53),
-- bulk/status -> string, array -> array. Failures are err tables with a code:
-- REDIS_ERROR (the server's error reply, err.message is its text), REDIS_UNAVAILABLE (also
-- for the retryable replies BUSY, LOADING, MASTERDOWN, TRYAGAIN),
-- REDIS_TIMEOUT, REDIS_BUSY (every connection for blocking commands is in use).
-- Commands that would change the shared connection (SELECT, SUBSCRIBE, WATCH...) raise;
-- MULTI/EXEC only work inside one pipeline.
local core = require "speezy.redis.core"
local json = require "speezy.json"

local M = { null = core.null }

function M.call(...)
  local op, err = core.call(...)
  if not op then return nil, err end
  core.wait(op)
  return core.result(op)
end

-- Results in command order, each the reply or an err table, so one failing command doesn't
-- hide the others; nil, err only when no command got a reply (Redis down).
function M.pipeline(cmds)
  if type(cmds) ~= "table" then
    error("redis.pipeline: expected an array of commands, got " .. type(cmds), 2)
  end
  if #cmds == 0 then return json.array() end -- [] in JSON, like every array from Redis
  local op, err = core.pipeline(cmds)
  if not op then return nil, err end
  core.wait(op)
  return core.result(op)
end

-- The script text never changes, so its SHA1 can be cached across requests; bounded in
-- case a script builds scripts on the fly.
local MAX_SHAS = 1000
local shas, nshas = {}, 0

local function sha_of(script)
  local sha = shas[script]
  if not sha then
    if nshas >= MAX_SHAS then shas, nshas = {}, 0 end
    sha = core.sha1(script)
    shas[script] = sha
    nshas = nshas + 1
  end
  return sha
end

local function call_argv(argv)
  local op, err = core.call(argv, "redis.eval")
  if not op then return nil, err end
  core.wait(op)
  return core.result(op)
end

local function append(dst, src, what)
  if src == nil then return end
  if type(src) ~= "table" then
    error("redis.eval: " .. what .. " must be an array, got " .. type(src), 3)
  end
  for i = 1, #src do dst[#dst + 1] = src[i] end
end

-- EVALSHA first; on NOSCRIPT (Redis restarted or SCRIPT FLUSH) EVAL, which caches it again.
function M.eval(script, keys, args)
  if type(script) ~= "string" then
    error("redis.eval: script must be a string, got " .. type(script), 2)
  end
  local argv = { "EVALSHA", sha_of(script), 0 }
  append(argv, keys, "keys")
  argv[3] = #argv - 3
  append(argv, args, "args")
  local res, err = call_argv(argv)
  if err and err.code == "REDIS_ERROR" and err.message:find("^NOSCRIPT") then
    argv[1], argv[2] = "EVAL", script
    return call_argv(argv)
  end
  return res, err
end

return M
