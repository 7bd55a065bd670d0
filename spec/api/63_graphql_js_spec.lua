-- graphql-js, the reference implementation, as a client of the live /graphql on the
-- application's scripts/: its getIntrospectionQuery() (descriptions, specifiedByURL,
-- repeatable directives, the schema's description, deprecated input values) is answered, the
-- client schema it builds is valid, and printed it is our SDL (scripts/graphql/*.graphql).
local h = require "spec.helpers"
local cjson = require "cjson.safe"
local glob = require "posix.glob"

local CHECK = h.root .. "/spec/tools/graphql_schema_check.js"

local function check(srv, dir, query)
  local argv = { "node", CHECK, ("http://127.0.0.1:%d/graphql"):format(srv.port) }
  for _, f in ipairs(assert(glob.glob(dir .. "/graphql/*.graphql"), "no SDL in " .. dir)) do
    argv[#argv + 1] = f
  end
  local code, out = h.run(argv, { GRAPHQL_QUERY = query or false }, { timeout_ms = 60000 })
  assert(code == 0, out)
  return assert(cjson.decode(out:match("{.*}") or ""), out)
end

describe("graphql-js against /graphql", function()
  local srv, dir

  setup(function()
    dir = h.relaxed_scripts()
    srv = h.start_app{ scripts = dir }
  end)
  teardown(function() if srv then srv:stop() end end)

  it("introspects a valid schema that prints as our SDL", function()
    local r = check(srv, dir)
    assert.equal(200, r.status)
    assert.equal(cjson.null, r.errors)
    assert.same({}, r.valid)
    assert.truthy(r.sdl:find("type Query", 1, true))
    assert.equal(r.sdl, r.introspected)
  end)

  it("validates the client's documents against the introspected schema", function()
    local r = check(srv, dir, [[
      query($after: String) { me { role } stores(first: 2, after: $after) {
        edges { cursor node { id isOpen address { latitude } } } pageInfo { hasNextPage } } }
      mutation($in: CreateStoreInput!) { createStore(input: $in) { id } }]])
    assert.same({ "This anonymous operation must be the only defined operation.",
                  "This anonymous operation must be the only defined operation." }, r.queryErrors)
    r = check(srv, dir, "{ stores { edges { node { nope } } } }")
    assert.same({ 'Cannot query field "nope" on type "Store". Did you mean "name"?' },
      r.queryErrors)
  end)
end)
