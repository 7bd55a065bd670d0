-- wrk script for S2 and S5: every request carries the access token BENCH_TOKEN (run.sh mints
-- it) in `Authorization: Bearer`.
local token = os.getenv("BENCH_TOKEN")
if not token or token == "" then error("BENCH_TOKEN is not set") end

-- luacheck: globals wrk
wrk.headers["Authorization"] = "Bearer " .. token
