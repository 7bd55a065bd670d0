-- speezy.graphql.check: graphql-js 16's SDL rules over the schema files, and the
-- specification's type validation of the built schema, each error with graphql-js's words and
-- the file:line:column of the definition at fault.
local core = require "speezy.graphql.core"
local check = require "speezy.graphql.check"
local gschema = require "speezy.graphql.schema"

-- The SDL rules over files { name = text, ... } given in order as { {name, text}, ... }.
local function sdl_errors(files)
  local docs = {}
  for i, f in ipairs(files) do
    docs[i] = { file = f[1], document = assert(core.parse(f[2])) }
  end
  return check.sdl(docs)
end

-- "file:line:column: message" of each error.
local function texts(errors)
  local out = {}
  for i, e in ipairs(errors) do
    out[i] = ("%s:%s:%s: %s"):format(e.file, e.line, e.column, e.message)
  end
  return out
end

-- The errors of building (and so checking) one SDL text named s.graphql.
local function build_errors(sdl)
  local schema, errors = gschema.build({ { file = "s.graphql", text = sdl } })
  if schema and not (errors and #errors > 0) then return {} end
  return texts(errors)
end

local QUERY = "type Query { a: Int }\n"

describe("graphql check: SDL rules", function()
  it("LoneSchemaDefinition", function()
    -- the second one's query is also one query type too many (UniqueOperationTypes)
    assert.same({ "b.graphql:2:1: Must provide only one schema definition.",
      "b.graphql:2:10: There can be only one query type in schema." }, texts(sdl_errors{
      { "a.graphql", "schema { query: Query }\n" .. QUERY },
      { "b.graphql", "\nschema { query: Query }" } }))
  end)

  it("UniqueOperationTypes, across the schema and its extensions", function()
    assert.same({ "s:1:24: There can be only one query type in schema.",
      "s:2:17: There can be only one query type in schema." }, texts(sdl_errors{
      { "s", "schema { query: Query, query: Query }\nextend schema { query: Query }\n" ..
        QUERY } }))
  end)

  it("UniqueTypeNames, across files", function()
    assert.same({ 'b:1:1: There can be only one type named "Query".' }, texts(sdl_errors{
      { "a", QUERY }, { "b", "input Query { x: Int }" } }))
  end)

  it("UniqueEnumValueNames, across the definition and its extensions", function()
    assert.same({ 's:1:12: Enum value "E.A" can only be defined once.',
      's:2:17: Enum value "E.B" can only be defined once.' }, texts(sdl_errors{
      { "s", "enum E { A A B }\nextend enum E { B C }" } }))
  end)

  it("UniqueFieldDefinitionNames, on objects, interfaces, input objects and extensions",
    function()
      assert.same({ 's:1:21: Field "Query.a" can only be defined once.',
        's:2:28: Field "Query.b" can only be defined once.',
        's:3:19: Field "I.x" can only be defined once.' }, texts(sdl_errors{
        { "s", "type Query { a: Int a: Int b: Int }\nextend type Query { c: Int b: Int }\n" ..
          "input I { x: Int, x: Int }" } }))
    end)

  it("UniqueArgumentDefinitionNames, of fields and of directives", function()
    assert.same({ 's:1:24: Argument "Query.a(x:)" can only be defined once.',
      's:2:22: Argument "@d(y:)" can only be defined once.' }, texts(sdl_errors{
      { "s", "type Query { a(x: Int, x: Int): Int }\ndirective @d(y: Int, y: Int) on FIELD" } }))
  end)

  it("UniqueDirectiveNames", function()
    assert.same({ 's:2:1: There can be only one directive named "@d".' }, texts(sdl_errors{
      { "s", "directive @d on FIELD\ndirective @d on QUERY\n" .. QUERY } }))
  end)

  it("PossibleTypeExtensions: an undefined type, with graphql-js's suggestions", function()
    assert.same({ 's:2:1: Cannot extend type "Querry" because it is not defined. ' ..
      'Did you mean "Query"?', 's:3:1: Cannot extend type "Nothing" because it is not defined.' },
      texts(sdl_errors{ { "s", QUERY .. "extend type Querry { b: Int }\n" ..
        "extend type Nothing { b: Int }" } }))
  end)

  it("PossibleTypeExtensions: an extension of another kind", function()
    assert.same({ 's:2:1: Cannot extend non-object type "E".',
      's:3:1: Cannot extend non-input object type "Query".' }, texts(sdl_errors{
      { "s", "enum E { A }\nextend type E { b: Int }\nextend input Query { x: Int }\n" ..
        QUERY } }))
    assert.same({}, sdl_errors{ { "s", 'extend scalar String @specifiedBy(url: "x")\n' ..
      QUERY } })
  end)

  it("KnownDirectives: unknown directives and directives out of place", function()
    assert.same({ 's:1:21: Unknown directive "@nope".',
      's:2:8: Directive "@deprecated" may not be used on ENUM.',
      's:3:19: Directive "@auth" may not be used on ARGUMENT_DEFINITION.' }, texts(sdl_errors{
      { "s", "type Query { a: Int @nope }\nenum E @deprecated { A }\n" ..
        "type T { a(x: Int @auth): Int @auth }\ndirective @auth on FIELD_DEFINITION" } }))
  end)

  it("UniqueDirectivesPerLocation, unless the directive is repeatable", function()
    assert.same({ 's:1:30: The directive "@d" can only be used once at this location.' },
      texts(sdl_errors{ { "s", "type Query { a: Int @d @r @r @d }\ndirective @d on " ..
        "FIELD_DEFINITION\ndirective @r repeatable on FIELD_DEFINITION" } }))
  end)

  it("accepts a schema that breaks none of them", function()
    assert.same({}, sdl_errors{ { "a", "schema { query: Query }\n" .. QUERY ..
      "extend type Query { b(x: Int @deprecated): Int @deprecated(reason: \"old\") }" },
      { "b", "enum E { A }\nextend enum E { B }\ndirective @d repeatable on OBJECT" } })
  end)
end)

describe("graphql check: type validation", function()
  it("Objects need fields, output field types and input argument types (3.6)", function()
    assert.same({ "s.graphql:2:1: Type Empty must define one or more fields." },
      build_errors(QUERY .. "type Empty"))
    assert.same({ "s.graphql:2:14: The type of Query.a must be Output Type but got: In." },
      build_errors("input In { x: Int }\ntype Query { a: In }"))
    assert.same({ "s.graphql:1:16: The type of Query.a(x:) must be Input Type but got: [Query!]." },
      build_errors("type Query { a(x: [Query!]): Int }"))
    assert.same({ "s.graphql:1:16: Required argument Query.a(x:) cannot be deprecated." },
      build_errors("type Query { a(x: Int! @deprecated): Int b(y: Int! = 1 @deprecated): Int }"))
  end)

  it("refuses names starting with __ (reserved for introspection)", function()
    assert.same({ 's.graphql:1:14: Name "__a" must not begin with "__", which is reserved by ' ..
      "GraphQL introspection.", 's.graphql:2:1: Name "__E" must not begin with "__", which ' ..
      "is reserved by GraphQL introspection." }, build_errors("type Query { __a: Int b: Int }\n" ..
      "enum __E { A }"))
  end)

  it("Interfaces: what an implementation owes (3.7)", function()
    assert.same({ "s.graphql:2:1: Type Query must only implement Interface types, it cannot " ..
      "implement Foo." }, build_errors("type Foo { a: Int }\ntype Query implements Foo { a: Int }"))
    assert.same({ "s.graphql:2:1: Interface field I.x expected but Query does not provide it." },
      build_errors("interface I { x: Int }\ntype Query implements I { a: Int }"))
    assert.same({ "s.graphql:2:27: Interface field I.x expects type Int but Query.x is type " ..
      "String." }, build_errors("interface I { x: Int }\ntype Query implements I { x: String }"))
    assert.same({}, build_errors("interface I { x: Int, y: I }\n" ..
      "type Query implements I { x: Int!, y: Query }"))
    assert.same({ "s.graphql:2:27: Interface field argument I.x(a:) expected but Query.x does " ..
      "not provide it." }, build_errors("interface I { x(a: Int): Int }\n" ..
      "type Query implements I { x: Int }"))
    assert.same({ "s.graphql:2:29: Interface field argument I.x(a:) expects type Int but " ..
      "Query.x(a:) is type Int!." }, build_errors("interface I { x(a: Int): Int }\n" ..
      "type Query implements I { x(a: Int!): Int }"))
    assert.same({ "s.graphql:2:29: Object field Query.x includes required argument b that is " ..
      "missing from the Interface field I.x." }, build_errors("interface I { x: Int }\n" ..
      "type Query implements I { x(b: Int!): Int }"))
  end)

  it("Interfaces: transitive implementations and cycles (3.7)", function()
    assert.same({ "s.graphql:3:1: Type Query must implement A because it is implemented by B." },
      build_errors("interface A { x: Int }\ninterface B implements A { x: Int }\n" ..
        "type Query implements B { x: Int }"))
    assert.same({ "s.graphql:2:1: Type I cannot implement itself because it would create a " ..
      "circular reference." }, build_errors(QUERY .. "interface I implements I { x: Int }"))
  end)

  it("Unions hold object types only (3.8)", function()
    assert.same({ "s.graphql:3:1: Union type U can only include Object types, it cannot " ..
      "include I." }, build_errors(QUERY .. "interface I { x: Int }\nunion U = Query | I"))
  end)

  it("Enums need values (3.9)", function()
    assert.same({ "s.graphql:2:1: Enum type E must define one or more values." },
      build_errors(QUERY .. "enum E"))
  end)

  it("Input objects: input field types, and no unbreakable non-null cycle (3.10)", function()
    assert.same({ "s.graphql:2:12: The type of In.q must be Input Type but got: Query.",
      "s.graphql:2:22: Required input field In.r cannot be deprecated." },
      build_errors(QUERY .. "input In { q: Query, r: Int! @deprecated }"))
    assert.same({ "s.graphql:2:11: Cannot reference Input Object \"A\" within itself " ..
      "through a series of non-null fields: \"b.a\"." },
      build_errors(QUERY .. "input A { b: B! }\ninput B { a: A! }"))
    -- a list or a nullable field breaks the cycle: such inputs can be written
    assert.same({}, build_errors(QUERY .. "input A { a: [A!]!, b: B }\ninput B { a: A! }"))
  end)

  it("Directives: input argument types (3.13)", function()
    assert.same({ "s.graphql:2:14: Argument @d(x:) must accept an input type but got: Query." },
      build_errors(QUERY .. "directive @d(x: Query) on FIELD"))
  end)

  it("Root operation types: a query type is required (3.3)", function()
    local _, errors = gschema.build({ { file = "a.graphql", text = "type Foo { a: Int }" },
      { file = "b.graphql", text = "type Bar { b: Int }" } })
    assert.same({ { file = "a.graphql", message = "Query root type must be provided." } }, errors)
  end)

  it("Root operation types are object types (3.3)", function()
    assert.same({ "s.graphql:3:1: Mutation root type must be Object type if provided, it " ..
      "cannot be In." }, build_errors("schema { query: Query, mutation: In }\n" .. QUERY ..
      "input In { x: Int }"))
  end)
end)
