-- wrk script for S4: GET /users/<random id> between BENCH_ID_LO and BENCH_ID_HI.
local lo = tonumber(os.getenv("BENCH_ID_LO")) or 1
local hi = tonumber(os.getenv("BENCH_ID_HI")) or 10000

math.randomseed(os.time())

-- luacheck: globals request wrk
function request()
  return wrk.format("GET", "/users/" .. math.random(lo, hi))
end
