-- speezy.redis inside the host (`speezy test`), against the harness' Redis (REDIS_URL):
-- the Lua mapping of replies, pipelines, eval with its EVALSHA cache, and errors.
local json = require "speezy.json"
local redis = require "speezy.redis"

local P = "spec:redis:"

local function commandstat(name)
  local info = assert(redis.call("INFO", "commandstats"))
  return tonumber(info:match("cmdstat_" .. name .. ":calls=(%d+)")) or 0
end

describe("speezy.redis", function()
  before_each(function()
    assert(redis.call("DEL", P .. "s", P .. "n", P .. "l", P .. "h", P .. "missing"))
  end)

  describe("call", function()
    it("round-trips binary strings with embedded zeros", function()
      local v = "a\0b\r\n\255$3\r\n"
      assert.equal("OK", redis.call("SET", P .. "s", v))
      assert.equal(v, redis.call("GET", P .. "s"))
      assert.equal(#v, redis.call("STRLEN", P .. "s"))
    end)

    it("sends numbers as integers without exponent, others in few digits", function()
      assert.equal("OK", redis.call("SET", P .. "n", 1e15))
      assert.equal("1000000000000000", redis.call("GET", P .. "n"))
      assert.equal(1000000000000001, redis.call("INCRBY", P .. "n", 1))
      assert.equal("OK", redis.call("SET", P .. "s", 0.1))
      assert.equal("0.1", redis.call("GET", P .. "s"))
      assert.equal("1.5", redis.call("INCRBYFLOAT", P .. "s", 1.4))
    end)

    it("maps integers beyond 2^53 to strings", function()
      redis.call("SET", P .. "n", "9007199254740993")
      assert.equal("9007199254740994", redis.call("INCR", P .. "n"))
      assert.equal(-5, redis.call("DECRBY", P .. "s", 5))
    end)

    it("returns nil for a nil reply at top level, with no error", function()
      local v, err = redis.call("GET", P .. "missing")
      assert.is_nil(v)
      assert.is_nil(err)
    end)

    it("maps arrays, with redis.null for nil elements", function()
      redis.call("SET", P .. "s", "x")
      assert.same({ "x", redis.null, "x" }, redis.call("MGET", P .. "s", P .. "missing", P .. "s"))
      assert.equal(3, redis.call("RPUSH", P .. "l", "a", "b", "c"))
      assert.same({ "a", "b", "c" }, redis.call("LRANGE", P .. "l", 0, -1))
      assert.same({}, redis.call("LRANGE", P .. "missing", 0, -1))
    end)

    it("maps nested arrays", function()
      local v = redis.call("EVAL", "return {1, {2, 'x', {}}, 'y'}", 0)
      assert.same({ 1, { 2, "x", {} }, "y" }, v)
    end)

    it("accepts many arguments", function()
      local args = { "RPUSH", P .. "l" }
      for i = 1, 100 do args[#args + 1] = i end
      assert.equal(100, redis.call(unpack(args)))
      assert.equal("100", redis.call("LINDEX", P .. "l", -1))
    end)

    it("returns nil, err with REDIS_ERROR and the server's message on an error reply", function()
      redis.call("SET", P .. "s", "x")
      local v, err = redis.call("INCR", P .. "s")
      assert.is_nil(v)
      assert.equal("REDIS_ERROR", err.code)
      assert.matches("^ERR value is not an integer", err.message)
      assert.matches("REDIS_ERROR", tostring(err))
      v, err = redis.call("NOSUCHCOMMAND")
      assert.is_nil(v)
      assert.matches("unknown command", err.message)
    end)

    it("runs blocking commands on their own connection", function()
      assert.is_nil(redis.call("BLPOP", P .. "l", 0.05))
      redis.call("RPUSH", P .. "l", "v")
      assert.same({ P .. "l", "v" }, redis.call("BLPOP", P .. "l", 1))
    end)

    it("raises on arguments that are not strings or numbers", function()
      assert.has_error(function() redis.call("SET", P .. "s", true) end, "argument #3")
      assert.has_error(function() redis.call("SET", P .. "s", {}) end, "argument #3")
      assert.has_error(function() redis.call("SET", P .. "s", 0 / 0) end, "finite")
      assert.has_error(function() redis.call() end, "no command")
    end)

    it("refuses commands that would change the shared connection", function()
      assert.has_error(function() redis.call("SELECT", 1) end, "SELECT is not supported")
      local _, where = pcall(function() redis.call("SELECT", 1) end)
      assert.matches("^spec/lua/30_redis_spec%.lua:%d+: ", where) -- the script's line
      assert.has_error(function() redis.call("SUBSCRIBE", "c") end, "not supported")
      assert.has_error(function() redis.call("WATCH", P .. "s") end, "not supported")
      assert.has_error(function() redis.call("MULTI") end, "redis.pipeline")
    end)

    it("names itself when called outside a request coroutine", function()
      local co = coroutine.wrap(function() return redis.call("PING") end)
      assert.has_error(co, "redis.call")
    end)

    it("raises where it can't yield, and its reply never resumes the request later", function()
      redis.call("SET", P .. "s", "x")
      local get = function() return redis.call("GET", P .. "s") end
      local ok, err = pcall(string.gsub, "k", "k", get)
      assert.is_false(ok)
      assert.matches("cannot wait", err)
      ok, err = pcall(table.sort, { 2, 1 }, function(a, b) return redis.call("PING") and a < b end)
      assert.is_false(ok)
      assert.matches("cannot wait", err)
      -- the GET and PING replies come while this waits: they must not wake it early
      assert.is_nil(redis.call("BLPOP", P .. "l", 0.2))
      assert.equal("x", redis.call("GET", P .. "s"))
    end)
  end)

  describe("pipeline", function()
    it("returns one result per command, errors in place", function()
      local res = redis.pipeline {
        { "SET", P .. "s", "1" },
        { "INCR", P .. "s" },
        { "HGET", P .. "s", "f" },
        { "GET", P .. "missing" },
        { "LRANGE", P .. "missing", 0, -1 },
      }
      assert.equal(5, #res)
      assert.equal("OK", res[1])
      assert.equal(2, res[2])
      assert.equal("REDIS_ERROR", res[3].code)
      assert.matches("^WRONGTYPE", res[3].message)
      assert.equal(redis.null, res[4])
      assert.same({}, res[5])
    end)

    it("keeps order across many commands", function()
      local cmds = {}
      for i = 1, 500 do cmds[i] = { "INCR", P .. "n" } end
      local res = assert(redis.pipeline(cmds))
      for i = 1, 500 do assert.equal(i, res[i]) end
    end)

    it("runs MULTI ... EXEC as one batch", function()
      local res = redis.pipeline {
        { "MULTI" }, { "SET", P .. "s", "a" }, { "APPEND", P .. "s", "b" }, { "EXEC" },
      }
      assert.equal("OK", res[1])
      assert.equal("QUEUED", res[2])
      assert.same({ "OK", 2 }, res[4])
      assert.equal("ab", redis.call("GET", P .. "s"))
    end)

    it("refuses a MULTI left open, blocking and forbidden commands, before sending", function()
      assert.has_error(function()
        redis.pipeline { { "MULTI" }, { "SET", P .. "s", "never" } }
      end, "MULTI without EXEC")
      assert.has_error(function() redis.pipeline { { "BLPOP", P .. "l", 0 } } end, "blocking")
      assert.has_error(function()
        redis.pipeline { { "SET", P .. "s", "never" }, { "SELECT", 2 } }
      end, "not supported")
      assert.has_error(function() redis.pipeline { "GET" } end, "command #1")
      assert.is_nil(redis.call("GET", P .. "s"))
    end)

    it("returns an empty array for an empty pipeline", function()
      assert.same({}, redis.pipeline {})
    end)

    it("returns results that stay arrays in JSON, even empty", function()
      assert.equal("[]", json.encode(redis.pipeline {}))
      assert.equal('[[],"OK"]', json.encode(redis.pipeline {
        { "LRANGE", P .. "missing", 0, -1 }, { "SET", P .. "s", "v" },
      }))
      assert.equal("[]", json.encode(redis.call("LRANGE", P .. "missing", 0, -1)))
    end)
  end)

  describe("eval", function()
    local script = "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}"

    it("passes keys and args", function()
      assert.same({ P .. "n", "v", 1 }, redis.eval(script, { P .. "n" }, { "v" }))
      assert.equal(7, redis.eval("return 7"))
      assert.is_nil(redis.eval("return nil"))
    end)

    it("uses EVALSHA once the script is known, and survives SCRIPT FLUSH", function()
      redis.eval(script, { P .. "n" }, { "v" })
      local sha_calls, eval_calls = commandstat("evalsha"), commandstat("eval")
      assert.same({ P .. "n", "v", 2 }, redis.eval(script, { P .. "n" }, { "v" }))
      assert.equal(sha_calls + 1, commandstat("evalsha"))
      assert.equal(eval_calls, commandstat("eval"))
      assert.equal("OK", redis.call("SCRIPT", "FLUSH"))
      assert.same({ P .. "n", "v", 3 }, redis.eval(script, { P .. "n" }, { "v" }))
      assert.equal(eval_calls + 1, commandstat("eval"))
    end)

    it("returns nil, err when the script fails", function()
      local v, err = redis.eval("return redis.error_reply('nope')")
      assert.is_nil(v)
      assert.equal("REDIS_ERROR", err.code)
      assert.matches("nope", err.message)
    end)

    it("checks its arguments", function()
      assert.has_error(function() redis.eval(42) end, "script must be a string")
      assert.has_error(function() redis.eval("return 1", "k") end, "keys must be an array")
    end)

    it("maps retryable error replies to REDIS_UNAVAILABLE, others to REDIS_ERROR", function()
      for _, msg in ipairs { "LOADING fake", "BUSY fake", "MASTERDOWN fake" } do
        local v, err = redis.eval("return redis.error_reply(ARGV[1])", {}, { msg })
        assert.is_nil(v)
        assert.equal("REDIS_UNAVAILABLE", err.code, msg)
      end
      local _, err = redis.eval("return redis.error_reply('ERR plain')", {}, {})
      assert.equal("REDIS_ERROR", err.code)
    end)
  end)
end)
