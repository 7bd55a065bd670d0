-- The GraphQL schema reloads with the scripts (issue #17, "Reload"): scripts/graphql/*.graphql
-- and the resolver maps scripts/graphql/*.lua load with the generation (speezy.graphql.load);
-- an SDL syntax error, a type system error, a resolver for a type or field the schema lacks,
-- an abstract type nobody can resolve, a custom scalar without its coercions and a root field
-- without a resolver each refuse the generation with file:line while the old one keeps serving.
-- GRAPHQL_INTROSPECTION turns __schema and __type off (production's default).
local h = require "spec.helpers"

local FIX = "spec/fixtures/scripts/graphql_ok"
local SCHEMA = h.read_file(h.root .. "/" .. FIX .. "/graphql/schema.graphql")
local RESOLVERS = h.read_file(h.root .. "/" .. FIX .. "/graphql/resolvers.lua")
local TOKEN = string.rep("t0k3n", 8)

-- text with the first occurrence of `from` (plain) replaced; it must be there.
local function edit(text, from, to)
  local i, j = text:find(from, 1, true)
  assert(i, "the fixture no longer holds " .. from)
  return text:sub(1, i - 1) .. to .. text:sub(j + 1)
end

-- `speezy check` on a copy of the fixture with files replaced: exit code, output.
local function check(replace)
  local dir = h.copy_scripts(FIX)
  for path, text in pairs(replace or {}) do
    if text == false then
      assert(os.execute("rm -rf " .. h.shell_quote(dir .. "/" .. path)) == 0)
    else
      h.write_file(dir .. "/" .. path, text)
    end
  end
  local code, out = h.run({ h.bin, "check" }, { SPEEZY_ENV = "test", SCRIPTS_DIR = dir },
    { cwd = h.tmpdir("check") })
  return code, out, dir
end

local function refused(replace, where, message)
  local code, out, dir = check(replace)
  assert.equal(1, code, out)
  local want = dir .. "/" .. where .. ": " .. message
  assert.truthy(out:find(want, 1, true), "expected «" .. want .. "» in:\n" .. out)
end

local function gql(srv)
  local res = srv:request{ path = "/gql" }
  assert(res.status == 200, res.status_line .. " " .. res.body)
  return res.json
end

describe("GraphQL schema loading", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("serves the schema of scripts/graphql with its resolvers bound", function()
    srv = h.start{ scripts = h.copy_scripts(FIX) }
    local j = gql(srv)
    assert.is_true(j.schema)
    assert.same({ "hello", "node", "secret" }, j.query)
    assert.equal("world", j.hello)
    assert.equal("on", j.introspection)
  end)

  it("has no schema when scripts/graphql does not exist", function()
    local dir = h.copy_scripts(FIX)
    assert(os.execute("rm -rf " .. h.shell_quote(dir .. "/graphql")) == 0)
    srv = h.start{ scripts = dir }
    assert.is_false(gql(srv).schema)
  end)

  it("reloads a changed schema and refuses a broken one, the old one serving", function()
    local dir = h.copy_scripts(FIX)
    srv = h.start{ scripts = dir, env = { WORKERS = "2", ADMIN_TOKEN = TOKEN } }
    local sdl, lua = dir .. "/graphql/schema.graphql", dir .. "/graphql/resolvers.lua"
    -- a new field and its resolver: an edit of the .graphql file is part of the generation
    h.write_file(sdl, edit(SCHEMA, "  hello: String\n", "  hello: String\n  bye: String\n"))
    h.write_file(lua, edit(RESOLVERS, "  Query = {\n",
      '  Query = {\n    bye = function() return "bye" end,\n'))
    srv:reload()
    assert.same({ "hello", "bye", "node", "secret" }, gql(srv).query)
    local gen = srv.generation
    -- then a syntax error: refused by /admin/reload and by SIGHUP, with file:line:column
    h.write_file(sdl, edit(SCHEMA, "  hello: String\n", "  hello String\n"))
    local res = srv:request{ method = "POST", path = "/admin/reload",
      headers = { Authorization = "Bearer " .. TOKEN } }
    h.assert_error_envelope(res, 422, "RELOAD_REFUSED")
    local where = "graphql/schema.graphql:29:9: Syntax Error"
    assert.truthy(res.json.error.message:find(where, 1, true), res.json.error.message)
    srv:signal("HUP")
    assert.is_true(srv:wait_log(where, 5000), "not in the log:\n" .. srv:log_tail())
    assert.equal(gen, srv:healthz().generation)
    for _ = 1, 4 do -- both workers
      assert.same({ "hello", "bye", "node", "secret" }, gql(srv).query)
    end
  end)

  it("refuses a generation whose resolver map names a field the schema lacks", function()
    local dir = h.copy_scripts(FIX)
    srv = h.start{ scripts = dir }
    local gen = srv.generation
    h.write_file(dir .. "/graphql/resolvers.lua", edit(RESOLVERS, "  Query = {\n",
      '  Query = {\n    bye = function() return "bye" end,\n'))
    srv:signal("HUP")
    local where = "graphql/resolvers.lua:4: resolver map: Query has no field bye in the schema"
    assert.is_true(srv:wait_log(where, 5000), "not in the log:\n" .. srv:log_tail())
    assert.equal(gen, srv:healthz().generation)
    assert.equal("world", gql(srv).hello)
  end)
end)

describe("speezy check on scripts/graphql", function()
  it("passes the fixture", function()
    local code, out = check()
    assert.equal(0, code, out)
  end)

  it("refuses an SDL syntax error at file:line:column", function()
    refused({ ["graphql/schema.graphql"] = edit(SCHEMA, "  hello: String\n", "  hello String\n") },
      "graphql/schema.graphql:29:9", 'Syntax Error: Expected ":", found Name "String".')
  end)

  it("refuses a type system error at the definition's file:line:column", function()
    refused({ ["graphql/schema.graphql"] = SCHEMA .. "\nunion Anything = Store | Node\n" },
      "graphql/schema.graphql:38:1",
      "Union type Anything can only include Object types, it cannot include Node.")
  end)

  it("refuses an SDL rule's error (a type defined twice) at file:line:column", function()
    refused({ ["graphql/types.graphql"] = "\n\ntype Store {\n  id: ID!\n}\n" },
      "graphql/types.graphql:3:1", 'There can be only one type named "Store".')
  end)

  it("refuses a resolver for a field the schema lacks, at its file:line", function()
    refused({ ["graphql/resolvers.lua"] = edit(RESOLVERS, "  Mutation = {\n",
      "  Mutation = {\n    pong = function() return true end,\n") },
      "graphql/resolvers.lua:9", "resolver map: Mutation has no field pong in the schema")
  end)

  it("refuses a resolver map entry for a type the schema lacks, at its file:line", function()
    refused({
      ["graphql/extra.lua"] = "return {\n  Shop = {\n    name = function() end,\n  },\n}\n" },
      "graphql/extra.lua:3", "resolver map: the schema has no type Shop")
  end)

  it("refuses a resolver given twice, naming both places", function()
    local code, out = check({
      ["graphql/extra.lua"] = "return {\n  Query = {\n    hello = function() end,\n  },\n}\n" })
    assert.equal(1, code, out)
    assert.truthy(out:find("graphql/resolvers.lua:4: resolver map: Query.hello is given twice " ..
      "(also at ", 1, true), out)
    assert.truthy(out:find("graphql/extra.lua:3)", 1, true), out)
  end)

  it("refuses an interface without __resolveType nor __isTypeOf on its types", function()
    refused({ ["graphql/resolvers.lua"] = edit(RESOLVERS,
      '    __resolveType = function() return "Store" end,\n', "") },
      "graphql/schema.graphql:18:1", "Node (interface) needs __resolveType in a resolver map, " ..
      "or __isTypeOf on each of its object types (missing on Store)")
  end)

  it("takes __isTypeOf on every object type instead of __resolveType", function()
    local code, out = check({ ["graphql/resolvers.lua"] = edit(RESOLVERS,
      '  Node = {\n    __resolveType = function() return "Store" end,\n  },\n',
      "  Store = {\n    __isTypeOf = function() return true end,\n  },\n") })
    assert.equal(0, code, out)
  end)

  it("refuses a custom scalar without its three coercions", function()
    refused({ ["graphql/resolvers.lua"] = edit(RESOLVERS,
      "    parse_literal = function(node) return node.value end,\n", "") },
      "graphql/schema.graphql:16:1", "scalar DateTime needs serialize, parse_value and " ..
      "parse_literal in a resolver map (missing: parse_literal)")
  end)

  it("refuses a root field without a resolver", function()
    refused({ ["graphql/resolvers.lua"] = edit(RESOLVERS,
      "    ping = function() return true end,\n", "") },
      "graphql/schema.graphql:35:3", "Mutation.ping has no resolver")
  end)

  it("refuses resolver maps without any schema", function()
    local code, out, dir = check({ ["graphql/schema.graphql"] = false })
    assert.equal(1, code, out)
    assert.truthy(out:find(dir .. "/graphql/: resolver maps but no schema", 1, true), out)
  end)

  it("refuses a resolver file that returns no map", function()
    refused({ ["graphql/resolvers.lua"] = "return 42\n" }, "graphql/resolvers.lua",
      "must return a resolver map (a table), got number")
  end)
end)

describe("GRAPHQL_INTROSPECTION", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("=0 turns __schema into INTROSPECTION_DISABLED", function()
    srv = h.start{ scripts = h.copy_scripts(FIX), env = { GRAPHQL_INTROSPECTION = "0" } }
    assert.equal("INTROSPECTION_DISABLED", gql(srv).introspection)
  end)

  it("is off by default in production", function()
    local secret = string.rep("s", 40)
    srv = h.start{ scripts = h.copy_scripts(FIX), env = {
      SPEEZY_ENV = "production", JWT_SECRET = secret, OTP_SECRET = secret .. "o",
      SMS_PROVIDER = "http", SMS_HTTP_URL = "https://127.0.0.1:9/sms",
      DATABASE_URL = os.getenv("SPEEZY_TEST_DATABASE_URL") or "postgresql://127.0.0.1:1/none",
      REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or "redis://127.0.0.1:1" } }
    assert.equal("INTROSPECTION_DISABLED", gql(srv).introspection)
  end)

  it("refuses a value other than 0 or 1, naming the setting", function()
    srv = h.start{ scripts = h.copy_scripts(FIX), env = { GRAPHQL_INTROSPECTION = "yes" },
      wait = false }
    local code = srv:wait_exit(5000)
    assert.equal(78, code, srv:logs())
    assert.truthy(srv:logs():find("GRAPHQL_INTROSPECTION must be an integer between 0 and 1", 1,
      true), srv:logs())
  end)
end)
