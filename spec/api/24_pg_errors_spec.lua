-- PostgreSQL failures as HTTP answers (README "PostgreSQL" and "Handlers"): the stable code of
-- a failed statement picks the status, 422 CONSTRAINT_VIOLATION for a broken CHECK (the
-- README's latitude 91), 400 INVALID_INPUT for a parameter PostgreSQL cannot cast, 504 TIMEOUT
-- for a statement past PG_STATEMENT_TIMEOUT_MS; the same whether the handler returns
-- app.fail(err) or lets the err of assert(pg.query(...)) escape. A 5xx shows the client a
-- public message and logs its cause under the request id; none of them is logged as a bug.
-- Routes: spec/fixtures/scripts/pg_errors.
local h = require "spec.helpers"

-- The err's code, its status, and what its message must say (PostgreSQL's own words for a
-- 4xx, the public one for a 5xx, whose cause goes to the log instead).
local CASES = {
  { name = "latitude", status = 422, code = "CONSTRAINT_VIOLATION",
    message = 'violates check constraint "addresses_latitude_range"' },
  { name = "integer", status = 400, code = "INVALID_INPUT",
    message = 'invalid input syntax for type integer: "12abc"' },
  { name = "sleep", status = 504, code = "TIMEOUT", message = "the operation timed out",
    cause = "TIMEOUT: canceling statement due to statement timeout" },
}

describe("a failed pg.query answered over HTTP", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/pg_errors",
      env = { WORKERS = "1", PG_STATEMENT_TIMEOUT_MS = "300" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  -- The log lines, other than the access line, that carry this request id.
  local function logged_for(rid)
    local found = {}
    for _, line in ipairs(srv:log_lines()) do
      if line.reqId == rid and line.msg ~= "access" then found[#found + 1] = line.msg end
    end
    return found
  end

  for _, case in ipairs(CASES) do
    for _, how in ipairs({ "fail", "raise" }) do
      local title = how == "fail" and "returned through app.fail(err)"
        or "raised by assert(pg.query(...))"
      it(("answers %d %s to %s, %s"):format(case.status, case.code, case.name, title), function()
        local res = srv:request{ path = "/" .. how .. "/" .. case.name, timeout_ms = 10000 }
        local j = h.assert_error_envelope(res, case.status, case.code)
        local rid = res.headers["x-request-id"]
        assert.equal(rid, j.requestId)
        assert.truthy(j.error.message:find(case.message, 1, true), j.error.message)
        assert.is_true(srv:wait_log('"reqId":"' .. rid .. '"', 3000), srv:log_tail())
        local lines = logged_for(rid)
        if case.cause then
          assert.falsy(res.body:find("statement timeout", 1, true), "the cause reached the client")
          assert.is_true(h.eventually(function()
            for _, msg in ipairs(logged_for(rid)) do
              if msg:find(case.cause, 1, true) then return true end
            end
          end, 3000) == true, "no cause in the log for " .. rid .. ":\n" .. srv:log_tail())
          lines = logged_for(rid)
        else
          assert.same({}, lines)
        end
        for _, msg in ipairs(lines) do
          assert.falsy(msg:find("handler error", 1, true), "logged as a bug: " .. msg)
          assert.falsy(msg:find("traceback", 1, true), "logged as a bug: " .. msg)
        end
      end)
    end
  end
end)
