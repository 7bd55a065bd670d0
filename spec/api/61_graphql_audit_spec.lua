-- graphql-http's auditServer, the GraphQL-over-HTTP specification's own checklist, run from
-- node (spec/tools/graphql_audit.js) against the live POST and GET /graphql of the
-- fixture's schema: no MUST may fail, and none of the SHOULDs does either.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local AUDIT = h.root .. "/spec/tools/graphql_audit.js"

describe("graphql-http's audit of /graphql", function()
  local srv, results

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/graphql_http" }
    local code, out = h.run({ "node", AUDIT, ("http://127.0.0.1:%d/graphql"):format(srv.port) },
      nil, { timeout_ms = 120000 })
    assert(code == 0, out)
    local facts = cjson.decode(out:match("{.*}") or "")
    assert(type(facts) == "table", out)
    results = facts.results
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  -- The results whose name starts with level, that did not pass, as readable lines.
  local function failing(level)
    local list = {}
    for _, r in ipairs(results) do
      if r.name:sub(1, #level) == level and r.status ~= "ok" then
        list[#list + 1] = ("%s %s: %s"):format(r.id, r.name, tostring(r.reason))
      end
    end
    return list
  end

  it("ran the whole checklist", function()
    assert.is_true(#results >= 50, tostring(#results))
  end)

  it("reports no MUST failure", function()
    assert.same({}, failing("MUST"))
  end)

  it("reports no SHOULD failure", function()
    assert.same({}, failing("SHOULD"))
  end)
end)
