-- wrk script for S6: POST /store with the seed's body, the store owner's access token
-- BENCH_TOKEN (run.sh mints it) and a fresh Idempotency-Key on every request, so each one
-- creates a store (a repeated key would measure the replay instead). Keys are unique across
-- threads, runs and servers: the run's BENCH_KEY_PREFIX, the thread's number, a counter.
local token = os.getenv("BENCH_TOKEN")
if not token or token == "" then error("BENCH_TOKEN is not set") end
local prefix = os.getenv("BENCH_KEY_PREFIX") or tostring(os.time())

local body = [[{"name":"My Store","description":"Best store in town","phone":"9876543210",]]
  .. [["address":{"street":"123 Main St","city":"CityName","state":"StateName",]]
  .. [["postalCode":"123456","country":"CountryName","latitude":12.3456,"longitude":78.9012}}]]

-- luacheck: globals wrk setup init request
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

local tag, n
function init()
  -- thread_no is set by setup() in the thread's own Lua state
  tag = ("%s-%s-%d"):format(prefix, tostring(_G.thread_no or 0), math.random(1, 1e9))
  n = 0
end

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/json",
}

function request()
  n = n + 1
  headers["Idempotency-Key"] = tag .. "-" .. n
  return wrk.format("POST", "/store", headers, body)
end
