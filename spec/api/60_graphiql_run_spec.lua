-- GraphiQL at /graphiql running a query against the live server: headless Chromium (every
-- non-loopback request refused) types { redisPing } into the query editor, presses run and
-- reads PONG from the response pane; the screenshot is kept under build/test-logs/. The page
-- itself (files, headers, offline rendering) is spec/api/60_graphiql_spec.lua's.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local ASSETS = h.root .. "/spec/tools/js/node_modules"
local BROWSER = h.root .. "/spec/tools/graphiql_browser.js"

describe("GraphiQL against the live schema", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/graphql_http",
                   env = { UI_ASSETS_DIR = ASSETS } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("runs { redisPing } and shows PONG, offline", function()
    local dir = h.root .. "/build/test-logs"
    os.execute("mkdir -p " .. h.shell_quote(dir))
    local shot = dir .. "/graphiql-redisPing.png"
    os.remove(shot)
    local code, out = h.run({ "node", BROWSER, ("http://127.0.0.1:%d/graphiql"):format(srv.port),
      "{ redisPing }", shot }, nil, { timeout_ms = 120000 })
    assert.equal(0, code, out)
    local facts = cjson.decode(out:match("{.*}") or "")
    assert.is_table(facts, out)
    assert.same({}, facts.external)
    assert.same({}, facts.cspViolations)
    assert.same({}, facts.pageErrors)
    assert.is_true(facts.rendered, out)
    local result = cjson.decode(facts.result or "")
    assert.same({ data = { redisPing = "PONG" } }, result, out)
    -- the schema's introspection, then the run
    assert.is_true(facts.graphqlRequests >= 2, out)
    assert.equal(shot, facts.screenshot)
    local png = h.read_file(shot)
    assert.is_string(png, "no screenshot at " .. shot)
    assert.equal("\137PNG", png:sub(1, 4))
  end)
end)
