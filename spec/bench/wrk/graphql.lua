-- wrk script for S8 and S9: POST /graphql with the JSON body BENCH_GQL_BODY (run.sh sets it:
-- the scenario's query), and the access token BENCH_TOKEN in `Authorization: Bearer` when it
-- is set (S8's `{ me }`; S9's page of stores, whose owners an ADMIN token may read).
local body = os.getenv("BENCH_GQL_BODY")
if not body or body == "" then error("BENCH_GQL_BODY is not set") end
local token = os.getenv("BENCH_TOKEN")

-- luacheck: globals wrk
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/graphql-response+json, application/json"
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
