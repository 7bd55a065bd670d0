-- speezy.graphql.execute and speezy.graphql.values: the specification's section 6 (execution)
-- and the input coercion of section 3, over schemas built from SDL strings with resolvers
-- written here as Lua functions. Answers are compared as the JSON the client gets, so the
-- order of the fields is checked too.
local core = require "speezy.core"
local gcore = require "speezy.graphql.core"
local gschema = require "speezy.graphql.schema"
local execute = require "speezy.graphql.execute"
local json = require "speezy.json"
local app = require "speezy.app"

local NULL = json.null

-- A schema from SDL, with resolvers bound the way speezy.graphql.load binds a resolver map.
local function build(sdl, resolvers)
  local schema, errs = gschema.build({ { file = "spec.graphql", text = sdl } })
  assert(schema, errs and errs[1] and errs[1].message)
  for tname, map in pairs(resolvers or {}) do
    local T = assert(schema.types[tname], tname)
    for k, fn in pairs(map) do
      if k == "__resolveType" then
        T.resolve_type = fn
      elseif k == "__isTypeOf" then
        T.is_type_of = fn
      elseif k == "serialize" or k == "parse_value" or k == "parse_literal" then
        T[k] = fn
      else
        assert(T.fields[k], tname .. "." .. k).resolve = fn
      end
    end
  end
  return schema
end

local function run(schema, query, variables, opts)
  opts = opts or {}
  local doc = opts.document or assert(gcore.parse(query))
  return execute.execute({ schema = schema, document = doc, variables = variables,
                           operation_name = opts.operation_name, context = opts.context,
                           root_value = opts.root_value })
end

-- data as the JSON text the client reads, and the errors
local function exec(schema, query, variables, opts)
  local r = run(schema, query, variables, opts)
  return r.data ~= nil and json.encode(r.data) or nil, r.errors
end

local function messages(errors)
  local out = {}
  for i, e in ipairs(errors or {}) do out[i] = e.message end
  return out
end

describe("graphql.execute", function()
  describe("fields", function()
    local s = build([[
type Query {
  hello: String
  greet(name: String = "you", times: Int): String
  user: User
  n: Int
}
type User { id: ID  name: String  friend: User }
]], {
      Query = {
        hello = function() return "world" end,
        greet = function(_, args)
          return "hi " .. args.name .. (args.times and (" x" .. args.times) or "")
        end,
        user = function() return { id = 1, name = "ana", friend = { id = "2", name = "bo" } } end,
      },
    })

    it("answers in the order of the selection, with aliases and __typename", function()
      local data, errors = exec(s,
        '{ n: hello hello user { name __typename id } t: __typename greet(name: "x", times: 2) }')
      assert.is_nil(errors)
      assert.equal('{"n":"world","hello":"world","user":{"name":"ana","__typename":"User",' ..
        '"id":"1"},"t":"Query","greet":"hi x x2"}', data)
    end)

    it("reads a field without a resolver from its parent, nested", function()
      local data = exec(s, "{ user { friend { name friend { name } } } }")
      assert.equal('{"user":{"friend":{"name":"bo","friend":null}}}', data)
    end)

    it("gives an argument its default when absent, and keeps null apart from absent", function()
      assert.equal('{"greet":"hi you"}', (exec(s, "{ greet }")))
      local seen
      local s2 = build("type Query { f(a: Int = 3, b: Int): Int }", {
        Query = { f = function(_, args) seen = args return 1 end },
      })
      exec(s2, "{ f(a: null) }")
      assert.same({ a = NULL }, seen)
      exec(s2, "{ f(b: 4) }")
      assert.same({ a = 3, b = 4 }, seen)
    end)

    it("merges the selections of one response key from fields and fragments", function()
      local data = exec(s, [[
{ user { friend { id } } ...F ... on Query { user { friend { name } } } }
fragment F on Query { user { name friend { id } } }]])
      assert.equal('{"user":{"friend":{"id":"2","name":"bo"},"name":"ana"}}', data)
    end)

    it("gives resolvers parent, args, context and info", function()
      local got
      local s2 = build([[
type Query { items: [Item] }
type Item { f(x: Int): String }
]], {
        Query = { items = function() return { { v = "a" }, { v = "b" } } end },
        Item = {
          f = function(parent, args, ctx, info)
            if parent.v == "b" then
              got = { args = args, ctx = ctx, name = info.field_name, path = info.path,
                      parent = info.parent_type.name, rt = info.return_type.name,
                      op = info.operation.name, vars = info.variable_values,
                      nodes = #info.field_nodes, schema = info.schema }
            end
            return parent.v
          end,
        },
      })
      local ctx = {}
      local data = exec(s2, "query Q($x: Int) { items { g: f(x: $x) f(x: $x) } }", { x = 5 },
        { context = ctx })
      assert.equal('{"items":[{"g":"a","f":"a"},{"g":"b","f":"b"}]}', data)
      assert.same({ x = 5 }, got.args)
      assert.equal(ctx, got.ctx)
      assert.equal("f", got.name)
      assert.same({ "items", 1, "f" }, got.path)
      assert.equal("Item", got.parent)
      assert.equal("String", got.rt)
      assert.equal("Q", got.op)
      assert.same({ x = 5 }, got.vars)
      assert.equal(1, got.nodes)
      assert.equal(s2, got.schema)
    end)
  end)

  describe("operations", function()
    local s = build([[
type Query { a: String }
type Mutation { m: String }
]], { Query = { a = function() return "A" end }, Mutation = { m = function() return "M" end } })
    local no_mutation = build("type Query { a: String }")

    it("runs the one anonymous operation, or the one named", function()
      assert.equal('{"a":"A"}', (exec(s, "{ a }")))
      assert.equal('{"m":"M"}',
        (exec(s, "query Q { a } mutation W { m }", nil, { operation_name = "W" })))
      assert.equal('{"a":"A"}',
        (exec(s, "query Q { a } mutation W { m }", nil, { operation_name = "Q" })))
    end)

    it("refuses a missing, unknown or ambiguous operation, without data", function()
      local r = run(s, "query Q { a } query R { a }")
      assert.is_nil(r.data)
      assert.same({ "Must provide operation name if query contains multiple operations." },
        messages(r.errors))
      assert.equal("BAD_USER_INPUT", r.errors[1].extensions.code)
      r = run(s, "query Q { a }", nil, { operation_name = "Z" })
      assert.same({ 'Unknown operation named "Z".' }, messages(r.errors))
      r = run(s, "fragment F on Query { a }")
      assert.same({ "Must provide an operation." }, messages(r.errors))
      local op, err = execute.operation(assert(gcore.parse("query Q { a } mutation W { m }")), "W")
      assert.equal("mutation", op.operation)
      assert.is_nil(err)
    end)

    it("refuses an operation type the schema has no root for", function()
      local r = run(no_mutation, "mutation { a }")
      assert.is_nil(r.data)
      assert.same({ "Schema is not configured to execute mutation operation." },
        messages(r.errors))
      assert.same({ { line = 1, column = 1 } }, r.errors[1].locations)
    end)
  end)

  it("plans a document again for another schema (a reload)", function()
    local doc = assert(gcore.parse("{ v }"))
    local one = build("type Query { v: Int }", { Query = { v = function() return 1 end } })
    local two = build("type Query { v: String }", { Query = { v = function() return "two" end } })
    assert.equal('{"v":1}', (exec(one, nil, nil, { document = doc })))
    assert.equal('{"v":"two"}', (exec(two, nil, nil, { document = doc })))
  end)

  describe("@skip and @include", function()
    local s = build("type Query { a: String  b: String  c: String }", {
      Query = { a = function() return "A" end, b = function() return "B" end,
                c = function() return "C" end },
    })

    it("follows literals on fields, spreads and inline fragments", function()
      local data = exec(s, [[
{ a @skip(if: true) b @include(if: false) c @skip(if: false) @include(if: true)
  ... @skip(if: true) { a } ...F @include(if: true) }
fragment F on Query { b }]])
      assert.equal('{"c":"C","b":"B"}', data)
    end)

    it("includes a field only when neither skips it (both true: skipped)", function()
      assert.equal("{}", (exec(s, "{ a @skip(if: true) @include(if: true) }")))
      assert.equal("{}", (exec(s, "{ a @skip(if: false) @include(if: false) }")))
      assert.equal('{"a":"A"}', (exec(s, "{ a @skip(if: false) @include(if: true) }")))
    end)

    it("follows variables, the same document planned once per set of their values", function()
      local doc = assert(gcore.parse(
        "query ($s: Boolean!, $i: Boolean = true) { a @skip(if: $s) b @include(if: $i) c }"))
      local function go(vars) return exec(s, nil, vars, { document = doc }) end
      assert.equal('{"b":"B","c":"C"}', (go({ s = true })))
      assert.equal('{"a":"A","b":"B","c":"C"}', (go({ s = false })))
      assert.equal('{"a":"A","c":"C"}', (go({ s = false, i = false })))
      assert.equal('{"c":"C"}', (go({ s = true, i = false })))
      assert.equal('{"b":"B","c":"C"}', (go({ s = true })))
    end)
  end)

  describe("variables", function()
    local seen
    local s = build([=[
enum Color { RED GREEN }
input Point { x: Int!  y: Int = 7  inner: Inner }
input Inner { a: [Int!]! }
type Query {
  f(i: Int, s: String, l: [Int], ll: [[Int]], nl: [Int!], p: Point, c: Color, cs: [Color]): Int
  g(p: Point!): Int
}
]=], {
      Query = {
        f = function(_, args) seen = args return 1 end,
        g = function(_, args) seen = args return 2 end,
      },
    })

    local function vars_of(defs, call, vars)
      seen = nil
      local r = run(s, "query (" .. defs .. ") { f(" .. call .. ") }", vars)
      return seen, r.errors, r
    end

    it("coerces values and uses a variable's default when it is absent", function()
      assert.same({ i = 4 }, (vars_of("$i: Int = 4", "i: $i", {})))
      assert.same({ i = NULL }, (vars_of("$i: Int = 4", "i: $i", { i = NULL })))
      assert.same({ c = "RED", cs = { "GREEN" } },
        (vars_of("$c: Color, $cs: [Color]", "c: $c, cs: $cs", { c = "RED", cs = { "GREEN" } })))
      -- a variable the operation leaves unset: the argument is absent, not null
      assert.same({}, (vars_of("$i: Int", "i: $i", {})))
    end)

    it("coerces lists as the specification's table says", function()
      assert.same({ l = { 1 } }, (vars_of("$l: [Int]", "l: $l", { l = 1 })))
      assert.same({ l = { 1, NULL, 3 } }, (vars_of("$l: [Int]", "l: $l", { l = { 1, NULL, 3 } })))
      assert.same({ ll = { { 1 } } }, (vars_of("$ll: [[Int]]", "ll: $ll", { ll = 1 })))
      assert.same({ ll = { { 1, 2 }, { 3 } } },
        (vars_of("$ll: [[Int]]", "ll: $ll", { ll = { { 1, 2 }, { 3 } } })))
      assert.same({ l = {} }, (vars_of("$l: [Int]", "l: $l", { l = json.array({}) })))
      local _, errors, r = vars_of("$nl: [Int!]", "nl: $nl", { nl = { 1, NULL } })
      assert.is_nil(r.data)
      assert.same({ 'Variable "$nl" got invalid value null at "nl[1]"; ' ..
        'Expected non-nullable type "Int!" not to be null.' }, messages(errors))
    end)

    it("coerces input objects: defaults, required and unknown fields, nested paths", function()
      assert.same({ p = { x = 1, y = 7 } }, (vars_of("$p: Point", "p: $p", { p = { x = 1 } })))
      assert.same({ p = { x = 1, y = NULL, inner = { a = { 2 } } } },
        (vars_of("$p: Point", "p: $p", { p = { x = 1, y = NULL, inner = { a = 2 } } })))
      local _, errors = vars_of("$p: Point", "p: $p", { p = { y = 1, z = 2, w = 3 } })
      assert.same({
        'Variable "$p" got invalid value { w: 3, y: 1, z: 2 }; ' ..
          'Field "x" of required type "Int!" was not provided.',
        'Variable "$p" got invalid value { w: 3, y: 1, z: 2 }; ' ..
          'Field "w" is not defined by type "Point".',
        'Variable "$p" got invalid value { w: 3, y: 1, z: 2 }; ' ..
          'Field "z" is not defined by type "Point".',
      }, messages(errors))
      _, errors = vars_of("$p: Point", "p: $p", { p = { x = 1, inner = {} } })
      assert.same({ 'Variable "$p" got invalid value {} at "p.inner"; ' ..
        'Field "a" of required type "[Int!]!" was not provided.' }, messages(errors))
      _, errors = vars_of("$p: Point", "p: $p", { p = { 1, 2 } })
      assert.same({ 'Variable "$p" got invalid value [1, 2]; Expected type "Point" to be an ' ..
        "object." }, messages(errors))
    end)

    it("refuses enum values by name only", function()
      local _, errors = vars_of("$c: Color", "c: $c", { c = "PURPLE" })
      assert.same({ 'Variable "$c" got invalid value "PURPLE"; Value "PURPLE" does not exist ' ..
        'in "Color" enum.' }, messages(errors))
      _, errors = vars_of("$c: Color", "c: $c", { c = 1 })
      assert.same({ 'Variable "$c" got invalid value 1; Enum "Color" cannot represent ' ..
        "non-string value: 1." }, messages(errors))
    end)

    it("refuses missing and null required variables: BAD_USER_INPUT at the definition", function()
      local r = run(s, "query ($p: Point!, $q: Point!) {\n  g(p: $p) }", { q = NULL })
      assert.is_nil(r.data)
      assert.same({ 'Variable "$p" of required type "Point!" was not provided.',
        'Variable "$q" of non-null type "Point!" must not be null.' }, messages(r.errors))
      assert.same({ { line = 1, column = 8 } }, r.errors[1].locations)
      assert.same({ { line = 1, column = 20 } }, r.errors[2].locations)
      assert.equal("BAD_USER_INPUT", r.errors[1].extensions.code)
      assert.equal("BAD_USER_INPUT", r.errors[2].extensions.code)
    end)

    it("refuses a variable whose type is unknown or not an input type", function()
      local r = run(s, "query ($x: [Nope!], $y: Query) { f }", { x = 1, y = {} })
      assert.is_nil(r.data)
      assert.same({
        'Variable "$x" expected value of type "[Nope!]" which cannot be used as an input type.',
        'Variable "$y" expected value of type "Query" which cannot be used as an input type.',
      }, messages(r.errors))
    end)

    it("stops at 50 errors", function()
      local defs, call, vars = {}, {}, {}
      for i = 1, 60 do
        defs[i] = "$v" .. i .. ": Int!"
        call[i] = "f" .. i .. ": f(i: $v" .. i .. ")"
      end
      local r = run(s, "query (" .. table.concat(defs, ", ") .. ") { " ..
        table.concat(call, " ") .. " }", vars)
      assert.equal(51, #r.errors)
      assert.equal("Too many errors processing variables, error limit reached. Execution aborted.",
        r.errors[51].message)
    end)
  end)

  describe("big inputs", function()
    it("coerces a list variable of 100,000 items and names the one bad item", function()
      local n
      local s = build("type Query { sum(l: [Int!]!): Int }", {
        Query = { sum = function(_, args) n = #args.l return args.l[100000] end },
      })
      local l = {}
      for i = 1, 100000 do l[i] = i end
      assert.equal('{"sum":100000}', (exec(s, "query ($l: [Int!]!) { sum(l: $l) }", { l = l })))
      assert.equal(100000, n)
      l[77777] = "x"
      local r = run(s, "query ($l: [Int!]!) { sum(l: $l) }", { l = l })
      assert.same({ 'Variable "$l" got invalid value "x" at "l[77776]"; Int cannot represent ' ..
        'non-integer value: "x"' }, messages(r.errors))
    end)

    it("answers every one of 5,000 aliases, in order", function()
      local s = build("type Query { f(i: Int): Int }", {
        Query = { f = function(_, args) return args.i end },
      })
      local q, want = {}, {}
      for i = 1, 5000 do
        q[i] = "a" .. i .. ": f(i: " .. i .. ")"
        want[i] = '"a' .. i .. '":' .. i
      end
      assert.equal("{" .. table.concat(want, ",") .. "}",
        (exec(s, "{ " .. table.concat(q, " ") .. " }")))
    end)
  end)

  describe("the specification's list input coercion table (3.11)", function()
    local seen
    local s = build([=[type Query { one(a: [Int]): Int  two(a: [[Int]]): Int }]=], {
      Query = {
        one = function(_, args) seen = args.a return 1 end,
        two = function(_, args) seen = args.a return 2 end,
      },
    })
    -- expected type, literal, the same value as a variable, coerced value (nil: an error,
    -- at these items of the variable)
    local rows = {
      { "[Int]", "[1, 2, 3]", { 1, 2, 3 }, { 1, 2, 3 } },
      { "[Int]", '[1, "b", true]', { 1, "b", true }, nil, { 1, 2 } },
      { "[Int]", "1", 1, { 1 } },
      { "[Int]", "null", NULL, NULL },
      { "[[Int]]", "[[1], [2, 3]]", { { 1 }, { 2, 3 } }, { { 1 }, { 2, 3 } } },
      { "[[Int]]", "[1, 2, 3]", { 1, 2, 3 }, nil, { 0, 1, 2 } },
      { "[[Int]]", "1", 1, { { 1 } } },
      { "[[Int]]", "null", NULL, NULL },
    }

    it("coerces literals as the table says", function()
      for _, row in ipairs(rows) do
        local field = row[1] == "[Int]" and "one" or "two"
        seen = nil
        local data, errors = exec(s, "{ " .. field .. "(a: " .. row[2] .. ") }")
        if row[4] == nil then
          assert.equal('{"' .. field .. '":null}', data, row[1] .. " " .. row[2])
          assert.same({ 'Argument "a" has invalid value ' .. row[2] .. "." }, messages(errors))
        else
          assert.same(row[4], seen, row[1] .. " " .. row[2])
        end
      end
    end)

    it("coerces variables as the table says", function()
      for _, row in ipairs(rows) do
        local field = row[1] == "[Int]" and "one" or "two"
        seen = nil
        local r = run(s, "query ($a: " .. row[1] .. ") { " .. field .. "(a: $a) }", { a = row[3] })
        if row[4] == nil then
          assert.is_nil(r.data, row[1] .. " " .. row[2])
          assert.equal(#row[5], #r.errors)
          for i, at in ipairs(row[5]) do
            assert.matches('^Variable "%$a" got invalid value [^;]* at "a%[' .. at .. '%]"; ',
              r.errors[i].message)
          end
        else
          assert.same(row[4], seen, row[1] .. " " .. row[2])
        end
      end
      local r = run(s, "query ($a: [[Int]]) { two(a: $a) }", { a = { { 1 }, 2 } })
      assert.same({ 'Variable "$a" got invalid value 2 at "a[1]"; Expected type "[Int]" to be ' ..
        "a list." }, messages(r.errors))
    end)
  end)

  describe("the specification's input object coercion table (3.10)", function()
    local seen
    local s = build([=[
input ExampleInputObject { a: String  b: Int! }
type Query { f(arg: ExampleInputObject): Int }
]=], { Query = { f = function(_, args) seen = args.arg return 1 end } })
    -- literal, variables, coerced value (nil: an error)
    local rows = {
      { '{ a: "abc", b: 123 }', {}, { a = "abc", b = 123 } },
      { "{ a: null, b: 123 }", {}, { a = NULL, b = 123 } },
      { "{ b: 123 }", {}, { b = 123 } },
      { "{ a: $var, b: 123 }", { var = NULL }, { a = NULL, b = 123 } },
      { "{ a: $var, b: 123 }", {}, { b = 123 } },
      { "{ b: $var }", { var = 123 }, { b = 123 } },
      { "$var", { var = { b = 123 } }, { b = 123 } },
      { '"abc123"', {}, nil },
      { "$var", { var = "abc123" }, nil },
      { '{ a: "abc", b: "123" }', {}, nil },
      { '{ a: "abc" }', {}, nil },
      { "{ b: $var }", {}, nil },
      { "$var", { var = { a = "abc" } }, nil },
      { '{ a: "abc", b: null }', {}, nil },
      { "{ b: $var }", { var = NULL }, nil },
      { '{ b: 123, c: "xyz" }', {}, nil },
    }

    it("coerces each row: a bad literal fails the field, a bad variable the request", function()
      for i, row in ipairs(rows) do
        local literal = row[1]
        local vtype = literal == "$var" and "ExampleInputObject" or
          (literal:find("a: $var", 1, true) and "String" or "Int")
        local defs = literal:find("$var", 1, true) and ("($var: " .. vtype .. ") ") or ""
        seen = nil
        local r = run(s, "query " .. defs .. "{ f(arg: " .. literal .. ") }", row[2])
        if row[3] then
          assert.is_nil(r.errors, "row " .. i)
          assert.same(row[3], seen, "row " .. i)
        elseif literal == "$var" then
          assert.is_nil(r.data, "row " .. i)
          assert.equal("BAD_USER_INPUT", r.errors[1].extensions.code)
        else
          assert.equal('{"f":null}', json.encode(r.data), "row " .. i)
          assert.matches('^Argument "arg" ', r.errors[1].message)
          assert.is_nil(seen)
        end
      end
    end)
  end)

  describe("the specification's list and non-null result table (3.12.1)", function()
    local value
    local s = build("type Query { w: W }  type W { a: [Int]  b: [Int]!  c: [Int!]  d: [Int!]! }", {
      Query = { w = function() return {} end },
      W = {
        a = function() return value end, b = function() return value end,
        c = function() return value end, d = function() return value end,
      },
    })
    local E = "x" -- an item Int cannot serialize: the table's "Error"
    local rows = {
      { "a", { 1, 2, 3 }, "[1,2,3]", 0 },
      { "a", NULL, "null", 0 },
      { "a", { 1, 2, NULL }, "[1,2,null]", 0 },
      { "a", { 1, 2, E }, "[1,2,null]", 1 },
      { "b", { 1, 2, 3 }, "[1,2,3]", 0 },
      { "b", NULL, nil, 1 },
      { "b", { 1, 2, NULL }, "[1,2,null]", 0 },
      { "b", { 1, 2, E }, "[1,2,null]", 1 },
      { "c", { 1, 2, 3 }, "[1,2,3]", 0 },
      { "c", NULL, "null", 0 },
      { "c", { 1, 2, NULL }, "null", 1 },
      { "c", { 1, 2, E }, "null", 1 },
      { "d", { 1, 2, 3 }, "[1,2,3]", 0 },
      { "d", NULL, nil, 1 },
      { "d", { 1, 2, NULL }, nil, 1 },
      { "d", { 1, 2, E }, nil, 1 },
    }

    it("answers each row as the table says, an error taking the nearest nullable field", function()
      for i, row in ipairs(rows) do
        value = row[2]
        local data, errors = exec(s, "{ w { " .. row[1] .. " } }")
        -- nil: "Error": the field cannot be null, so w is
        local want = row[3] and ('{"w":{"' .. row[1] .. '":' .. row[3] .. "}}") or '{"w":null}'
        assert.equal(want, data, "row " .. i)
        assert.equal(row[4], #(errors or {}), "row " .. i)
      end
    end)
  end)

  describe("arguments from literals", function()
    local seen
    local s = build([=[
enum Color { RED GREEN }
input Point { x: Int!  y: Int = 7 }
type Query { f(l: [Int], ll: [[Int]], p: Point, c: Color, n: Int!, d: Int = 9): Int }
]=], { Query = { f = function(_, args) seen = args return 1 end } })

    it("coerces a literal to its argument's type", function()
      exec(s, "{ f(l: 1, ll: 2, p: {x: 1}, c: GREEN, n: 0) }")
      assert.same({ l = { 1 }, ll = { { 2 } }, p = { x = 1, y = 7 }, c = "GREEN", n = 0, d = 9 },
        seen)
    end)

    it("takes an argument's default when its variable is not provided", function()
      exec(s, "query ($d: Int, $l: Int) { f(n: 1, d: $d, l: [$l, 2]) }", {})
      assert.same({ n = 1, d = 9, l = { NULL, 2 } }, seen)
    end)

    it("gives each call its own args, even from one document's shared plan", function()
      local got = {}
      local s2 = build("input P { x: Int }  type Query { f(p: P = {x: 1}, l: [Int] = [1]): " ..
        "Int  items: [Int]  g: Int }", {
        Query = {
          f = function(_, args)
            got[#got + 1] = args.p.x + args.l[1]
            args.p.x, args.l[1] = 10, 10
            return 1
          end,
          items = function() return { 1, 2 } end,
          g = function(_, args) args.x = 1 end,
        },
      })
      local doc = assert(gcore.parse("{ f a: f(p: {x: 2}) }"))
      exec(s2, nil, nil, { document = doc })
      exec(s2, nil, nil, { document = doc })
      assert.same({ 2, 3, 2, 3 }, got)
      local data, errors = exec(s2, "{ g }")
      assert.equal('{"g":null}', data)
      assert.equal("Internal server error", errors[1].message)
    end)

    it("refuses an enum literal the enum does not have", function()
      seen = nil
      local data, errors = exec(s, "{ f(n: 1, c: PURPLE) }")
      assert.equal('{"f":null}', data)
      assert.same({ 'Argument "c" has invalid value PURPLE.' }, messages(errors))
      assert.is_nil(seen)
    end)

    it("gives a field error, not a request error, for an argument it cannot coerce", function()
      local data, errors = exec(s,
        "query ($n: Int) {\n  a: f(n: $n) b: f(n: null) c: f(p: {y: 1}, n: 1) }")
      assert.equal('{"a":null,"b":null,"c":null}', data)
      assert.same({
        'Argument "n" of required type "Int!" was provided the variable "$n" which was not ' ..
          "provided a runtime value.",
        'Argument "n" of non-null type "Int!" must not be null.',
        'Argument "p" has invalid value {y: 1}.',
      }, messages(errors))
      assert.same({ "a" }, errors[1].path)
      assert.same({ { line = 2, column = 11 } }, errors[1].locations)
      assert.same({ "c" }, errors[3].path)
      assert.equal("BAD_USER_INPUT", errors[3].extensions.code)
    end)
  end)

  describe("null propagation", function()
    local s = build([[
type Query {
  nullable: T
  nonNull: T!
  list: [T]
  listOfNonNull: [T!]
  nonNullList: [T]!
}
type T {
  ok: String
  boom: String
  nnBoom: String!
  nnNull: String!
  child: T
  nnChild: T!
}
]], {
      Query = {
        nullable = function() return {} end,
        nonNull = function() return {} end,
        list = function() return { {}, {} } end,
        listOfNonNull = function() return { {}, {} } end,
        nonNullList = function() return { {}, NULL } end,
      },
      T = {
        ok = function() return "ok" end,
        boom = function() error("kaboom") end,
        nnBoom = function() app.raise(403, "FORBIDDEN", "not yours") end,
        nnNull = function() return nil end,
        child = function() return {} end,
        nnChild = function() return {} end,
      },
    })

    it("nulls a nullable field that raised, and reports it once with its path", function()
      local data, errors = exec(s, "{ nullable { ok boom } }")
      assert.equal('{"nullable":{"ok":"ok","boom":null}}', data)
      assert.equal(1, #errors)
      assert.same({ "nullable", "boom" }, errors[1].path)
    end)

    it("nulls the nearest nullable parent of a non-null field", function()
      local data, errors = exec(s, "{ nullable { ok nnBoom } list { ok } }")
      assert.equal('{"nullable":null,"list":[{"ok":"ok"},{"ok":"ok"}]}', data)
      assert.same({ "not yours" }, messages(errors))
      assert.same({ "nullable", "nnBoom" }, errors[1].path)
      data, errors = exec(s, "{ nullable { child { nnChild { nnNull } } } }")
      assert.equal('{"nullable":{"child":null}}', data)
      assert.same({ "Cannot return null for non-nullable field T.nnNull." }, messages(errors))
      assert.same({ "nullable", "child", "nnChild", "nnNull" }, errors[1].path)
    end)

    it("nulls data when every field up to the root is non-null", function()
      local r = run(s, "{ ok: nullable { ok } nonNull { nnChild { nnNull } } }")
      assert.equal(NULL, r.data)
      assert.same({ "Cannot return null for non-nullable field T.nnNull." }, messages(r.errors))
      assert.same({ "nonNull", "nnChild", "nnNull" }, r.errors[1].path)
    end)

    it("nulls an item of [T], the whole list of [T!], and nothing of [T]! but the item", function()
      local data, errors = exec(s, "{ list { nnNull } }")
      assert.equal('{"list":[null,null]}', data)
      assert.same({ { "list", 0, "nnNull" }, { "list", 1, "nnNull" } },
        { errors[1].path, errors[2].path })
      data, errors = exec(s, "{ listOfNonNull { nnNull } }")
      assert.equal('{"listOfNonNull":null}', data)
      assert.equal(1, #errors) -- the second item went with the list: no error of its own
      assert.same({ "listOfNonNull", 0, "nnNull" }, errors[1].path)
      data, errors = exec(s, "{ nonNullList { ok } }")
      assert.equal('{"nonNullList":[{"ok":"ok"},null]}', data)
      assert.is_nil(errors)
    end)

    it("locates an error at every node of its merged field", function()
      local _, errors = exec(s, "{ nullable {\n  boom\n  ... on T { boom } } }")
      assert.same({ { line = 2, column = 3 }, { line = 3, column = 14 } }, errors[1].locations)
    end)
  end)

  describe("lists", function()
    local s = build([=[
type Query { ints: [Int]  nested: [[Int!]]  notList: [Int]  strs: [String!]! }
]=], {
      Query = {
        ints = function() return json.array({}) end,
        nested = function() return { { 1, 2 }, {}, { 3 } } end,
        notList = function() return 5 end,
        strs = function() return { "a", "b" } end,
      },
    })

    it("answers lists in order, empty ones as []", function()
      assert.equal('{"ints":[],"nested":[[1,2],[],[3]],"strs":["a","b"]}',
        (exec(s, "{ ints nested strs }")))
    end)

    it("refuses a value that is not a list", function()
      local data, errors = exec(s, "{ notList }")
      assert.equal('{"notList":null}', data)
      assert.same({ 'Expected Iterable, but did not find one for field "Query.notList".' },
        messages(errors))
    end)
  end)

  describe("abstract types", function()
    local sdl = [[
interface Named { name: String }
type Dog implements Named { name: String  barks: Boolean }
type Cat implements Named { name: String  meows: Boolean }
type Rock { name: String }
union Pet = Dog | Cat
type Query { pets: [Pet]  named: [Named]  one: Pet }
]]
    local pets = { { kind = "dog", name = "rex", barks = true },
                   { kind = "cat", name = "tom", meows = false } }

    it("resolves the runtime type with resolve_type, then collects its fragments", function()
      local s = build(sdl, {
        Query = { pets = function() return pets end, named = function() return pets end },
        Pet = { __resolveType = function(v) return v.kind == "dog" and "Dog" or "Cat" end },
        Named = { __resolveType = function(v) return v.kind == "dog" and "Dog" or "Cat" end },
      })
      local data = exec(s, [[
{ pets { __typename ... on Dog { barks name } ...C }
  named { name ... on Cat { meows } } }
fragment C on Cat { meows name }]])
      assert.equal('{"pets":[{"__typename":"Dog","barks":true,"name":"rex"},' ..
        '{"__typename":"Cat","meows":false,"name":"tom"}],' ..
        '"named":[{"name":"rex"},{"name":"tom","meows":false}]}', data)
    end)

    it("falls back to is_type_of, then to the value's __typename", function()
      local s = build(sdl, {
        Query = { pets = function() return pets end,
                  named = function() return { { __typename = "Cat", name = "kit" } } end },
        Dog = { __isTypeOf = function(v) return v.kind == "dog" end },
        Cat = { __isTypeOf = function(v) return v.kind == "cat" end },
      })
      assert.equal('{"pets":[{"__typename":"Dog"},{"__typename":"Cat"}]}',
        (exec(s, "{ pets { __typename } }")))
      local s2 = build(sdl, {
        Query = { named = function() return { { __typename = "Cat", name = "kit" } } end },
      })
      assert.equal('{"named":[{"__typename":"Cat","name":"kit"}]}',
        (exec(s2, "{ named { __typename name } }")))
    end)

    it("refuses a runtime type that is unknown, not possible, or missing", function()
      local answer
      local s = build(sdl, {
        Query = { one = function() return {} end },
        Pet = { __resolveType = function() return answer end },
      })
      answer = "Rock"
      local data, errors = exec(s, "{ one { __typename } }")
      assert.equal('{"one":null}', data)
      assert.same({ 'Runtime Object type "Rock" is not a possible type for "Pet".' },
        messages(errors))
      answer = "Ghost"
      data, errors = exec(s, "{ one { __typename } }")
      assert.equal('{"one":null}', data)
      assert.same({ 'Abstract type "Pet" was resolved to a type "Ghost" that does not exist ' ..
        "inside the schema." }, messages(errors))
      answer = nil
      data, errors = exec(s, "{ one { __typename } }")
      assert.equal('{"one":null}', data)
      assert.same({ 'Abstract type "Pet" must resolve to an Object type at runtime for field ' ..
        '"Query.one". Either the "Pet" type should provide a "resolveType" function or each ' ..
        'possible type should provide an "isTypeOf" function.' }, messages(errors))
    end)

    it("refuses an object value its type's is_type_of rejects", function()
      local s = build("type Query { d: Dog }  type Dog { name: String }", {
        Query = { d = function() return { name = "x" } end },
        Dog = { __isTypeOf = function() return false end },
      })
      local _, errors = exec(s, "{ d { name } }")
      assert.same({ 'Expected value of type "Dog" but got: { name: "x" }.' }, messages(errors))
    end)
  end)

  describe("leaves", function()
    local s = build([[
enum Color { RED GREEN }
scalar Stamp
type Query { color(c: Color): Color  bad: Color  stamp(s: Stamp): Stamp  badStamp: Stamp }
]], {
      Query = {
        color = function(_, args) return args.c or "RED" end,
        bad = function() return "PURPLE" end,
        stamp = function(_, args) return args.s end,
        badStamp = function() return "late" end,
      },
      Stamp = {
        serialize = function(v)
          if type(v) ~= "number" then return nil, "Stamp cannot represent " .. tostring(v) end
          return "@" .. v
        end,
        parse_value = function(v)
          local n = type(v) == "string" and tonumber(v:match("^@(%d+)$"))
          if not n then return nil, "Stamp wants @digits" end
          return n
        end,
        parse_literal = function(node)
          if node.kind ~= "StringValue" then return nil end
          return tonumber(node.value:match("^@(%d+)$"))
        end,
      },
    })

    it("serializes enums by name and refuses a value that is not one", function()
      assert.equal('{"color":"GREEN","r":"RED"}', (exec(s, "{ color(c: GREEN) r: color }")))
      local data, errors = exec(s, "{ bad }")
      assert.equal('{"bad":null}', data)
      assert.same({ 'Enum "Color" cannot represent value: "PURPLE"' }, messages(errors))
    end)

    it("uses a custom scalar's serialize, parse_value and parse_literal", function()
      assert.equal('{"stamp":"@12"}', (exec(s, '{ stamp(s: "@12") }')))
      assert.equal('{"stamp":"@7"}', (exec(s, "query ($s: Stamp) { stamp(s: $s) }", { s = "@7" })))
      local r = run(s, "query ($s: Stamp) { stamp(s: $s) }", { s = "7" })
      assert.same({ 'Variable "$s" got invalid value "7"; Stamp wants @digits' },
        messages(r.errors))
      local data, errors = exec(s, '{ stamp(s: "x") badStamp }')
      assert.equal('{"stamp":null,"badStamp":null}', data)
      assert.same({ 'Argument "s" has invalid value "x".', "Stamp cannot represent late" },
        messages(errors))
    end)
  end)

  describe("errors of resolvers", function()
    local sdl = "type Query { denied: String  bug: String  path: [Item]  soft: String }  " ..
      "type Item { x: Int }"
    local s = build(sdl, {
      Query = {
        soft = function()
          return nil, { status = 404, code = "NOT_FOUND", message = "no such store" }
        end,
        denied = function()
          app.raise(403, "FORBIDDEN", "only admins", { role = "ADMIN" })
        end,
        bug = function() error("secret table name") end,
        path = function() return { {}, {} } end,
      },
      -- an err table of pg or redis that nobody turned into an answer
      Item = { x = function() error({ code = "PG_QUERY", message = "relation x" }) end },
    })

    it("gives app.raise's code, message and details", function()
      local data, errors = exec(s, "{ denied }")
      assert.equal('{"denied":null}', data)
      assert.same({ message = "only admins", path = { "denied" },
        locations = { { line = 1, column = 3 } },
        extensions = { code = "FORBIDDEN", details = { role = "ADMIN" } } }, errors[1])
    end)

    it("takes `return nil, err` as a raise of err", function()
      local data, errors = exec(s, "{ soft }")
      assert.equal('{"soft":null}', data)
      assert.same({ "no such store" }, messages(errors))
      assert.equal("NOT_FOUND", errors[1].extensions.code)
    end)

    it("hides any other raise as INTERNAL_SERVER_ERROR and logs it with the path", function()
      local logged = {}
      local log = core.log
      core.log = function(level, msg, id) logged[#logged + 1] = { level, msg, id } end
      local ok, data, errors = pcall(exec, s, "{ bug path { x } }", nil,
        { context = { request_id = "r-1" } })
      core.log = log
      assert(ok, data)
      assert.equal('{"bug":null,"path":[{"x":null},{"x":null}]}', data)
      assert.same({ "Internal server error", "Internal server error", "Internal server error" },
        messages(errors))
      assert.equal("INTERNAL_SERVER_ERROR", errors[1].extensions.code)
      assert.same({ "path", 1, "x" }, errors[3].path)
      assert.equal("error", logged[1][1])
      assert.matches("^graphql resolver error at bug: .*secret table name", logged[1][2])
      assert.equal("r-1", logged[1][3])
      assert.matches("^graphql resolver error at path%.1%.x: PG_QUERY: relation x", logged[3][2])
    end)
  end)

  describe("order of resolvers", function()
    it("calls every resolver of a level before any of the next (one batch per level)", function()
      local calls = {}
      local function rec(name, v) return function() calls[#calls + 1] = name return v end end
      local s = build("type Query { a: [T]  b: T }  type T { x: Int }", {
        Query = { a = rec("a", { {}, {} }), b = rec("b", {}) },
        T = { x = function(_, _, _, info)
          calls[#calls + 1] = table.concat(info.path, ".")
          return 1
        end },
      })
      assert.equal('{"a":[{"x":1},{"x":1}],"b":{"x":1}}', (exec(s, "{ a { x } b { x } }")))
      assert.same({ "a", "b", "a.0.x", "a.1.x", "b.x" }, calls)
    end)

    it("runs mutation root fields one after the other, each with its whole selection", function()
      local calls = {}
      local s = build([[
type Query { q: Int }
type Mutation { first: R  second: R }
type R { x: Int }
]], {
        Mutation = {
          first = function() core.sleep(20) calls[#calls + 1] = "first" return { n = 1 } end,
          second = function() calls[#calls + 1] = "second" return { n = 2 } end,
        },
        R = { x = function(p) calls[#calls + 1] = "x" .. p.n return p.n end },
      })
      assert.equal('{"first":{"x":1},"second":{"x":2}}',
        (exec(s, "mutation { first { x } second { x } }")))
      assert.same({ "first", "x1", "second", "x2" }, calls)
    end)

    it("stops the mutations after one whose non-null answer failed nulls data", function()
      local calls = {}
      local s = build("type Query { q: Int }  type Mutation { a: String!  b: String }", {
        Mutation = {
          a = function() calls[#calls + 1] = "a" return nil end,
          b = function() calls[#calls + 1] = "b" return "b" end,
        },
      })
      local r = run(s, "mutation { a b }")
      assert.equal(NULL, r.data)
      assert.same({ "a" }, calls)
    end)

    it("runs a level's only resolver in the caller's coroutine", function()
      local co
      local s = build("type Query { a: Int }", {
        Query = { a = function() co = coroutine.running() return 1 end },
      })
      exec(s, "{ a }")
      assert.equal(coroutine.running(), co)
    end)
  end)
end)

describe("graphql.execute with resolvers doing I/O", function()
  local pg = require "speezy.pg"
  local redis = require "speezy.redis"

  it("runs the resolvers of one level concurrently, each in a thread", function()
    local events = {}
    local function sleeper(name, ms)
      return function()
        events[#events + 1] = name .. "+"
        core.sleep(ms)
        events[#events + 1] = name .. "-"
        return ms
      end
    end
    local s = build("type Query { a: Int  b: Int }", {
      Query = { a = sleeper("a", 60), b = sleeper("b", 10) },
    })
    assert.equal('{"a":60,"b":10}', (exec(s, "{ a b }")))
    assert.same({ "a+", "b+", "b-", "a-" }, events)
  end)

  it("runs a resolver marked sync in the caller's coroutine, beside others", function()
    local co
    local s = build("type Query { a: Int  b: Int }", {
      Query = { a = function() co = coroutine.running() return 1 end,
                b = function() return 2 end },
    })
    s.query.fields.a.sync = true
    assert.equal('{"a":1,"b":2}', (exec(s, "{ a b }")))
    assert.equal(coroutine.running(), co)
  end)

  it("keeps a thread's raise to its field, and mutations serial", function()
    local events = {}
    local s = build("type Query { ok: Int  bad: Int }  type Mutation { m1: Int  m2: Int }", {
      Query = { ok = function() core.sleep(5) return 1 end,
                bad = function() core.sleep(1) error("boom") end },
      Mutation = {
        m1 = function() events[#events + 1] = "m1+" core.sleep(20) events[#events + 1] = "m1-"
          return 1 end,
        m2 = function() events[#events + 1] = "m2" return 2 end,
      },
    })
    local data, errors = exec(s, "{ ok bad }")
    assert.equal('{"ok":1,"bad":null}', data)
    assert.equal("INTERNAL_SERVER_ERROR", errors[1].extensions.code)
    assert.same({ "bad" }, errors[1].path)
    assert.equal('{"m1":1,"m2":2}', (exec(s, "mutation { m1 m2 }")))
    assert.same({ "m1+", "m1-", "m2" }, events)
  end)

  it("yields for pg and redis, at the root and in list items, answering their data", function()
    local sdl = "type Query { ping: String  items(n: Int!): [Item] }  type Item { double: Int }"
    local s = build(sdl, {
      Query = {
        ping = function() return redis.call("PING") end,
        items = function(_, args)
          return assert(pg.query("SELECT generate_series(1, $1::int) AS i", args.n))
        end,
      },
      Item = {
        double = function(row)
          local rows = assert(pg.query("SELECT $1::int * 2 AS d", row.i))
          return rows[1].d
        end,
      },
    })
    local data, errors = exec(s, "{ ping items(n: 3) { double } }")
    assert.is_nil(errors)
    assert.equal('{"ping":"PONG","items":[{"double":2},{"double":4},{"double":6}]}', data)
  end)

  it("answers a pg error a resolver raised as INTERNAL_SERVER_ERROR", function()
    local s = build("type Query { bad: Int  good: Int }", {
      Query = {
        bad = function() return assert(pg.query("SELECT * FROM no_such_table_62")) end,
        good = function() return assert(pg.query("SELECT 1 AS n"))[1].n end,
      },
    })
    local log = core.log
    core.log = function() end
    local ok, data, errors = pcall(exec, s, "{ bad good }")
    core.log = log
    assert(ok, data)
    assert.equal('{"bad":null,"good":1}', data)
    assert.same({ "Internal server error" }, messages(errors))
  end)
end)
