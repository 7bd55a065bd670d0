-- speezy.graphql.introspection: the meta types of section 4 (with graphql-js 16's deprecated
-- arguments and input fields) and the meta fields, answering a full introspection query over
-- a schema built from SDL.
--
-- The executor is another part of issue #17: until it is merged, `run` below walks a query
-- the plain way (fields, fragments, literal arguments, list and non-null completion) over
-- the resolvers introspection.add installs, and fails on any field the meta types lack.
local core = require "speezy.graphql.core"
local gschema = require "speezy.graphql.schema"
local introspection = require "speezy.graphql.introspection"

local SDL = [[
"""The shop's schema."""
schema { query: Query }

"""Who may call a field."""
directive @auth(
  roles: [Role!] = [ADMIN]
  "why" note: String = "a\"b" @deprecated(reason: "no")
) repeatable on FIELD_DEFINITION | OBJECT

enum Role {
  CUSTOMER
  ADMIN @deprecated(reason: "use STAFF")
  STAFF
}

"A moment, RFC 3339."
scalar DateTime @specifiedBy(url: "https://tools.ietf.org/html/rfc3339")

interface Node { id: ID! }

"A store."
type Store implements Node {
  id: ID!
  "Its name."
  name: String!
  tags(first: Int = 10, filter: Filter = {prefix: "x", roles: [CUSTOMER]}): [String!]!
  old: Int @deprecated
  openedAt: DateTime
}

input Filter {
  prefix: String
  roles: [Role!]
  legacy: Int @deprecated(reason: "gone")
}

union Result = Store

type Query {
  node(id: ID!): Node
  stores(after: String, before: String @deprecated(reason: "use after")): [Store]
}
]]

-- A query asking everything graphql-js's getIntrospectionQuery asks with every option on
-- (descriptions, specifiedByUrl, directiveIsRepeatable, schemaDescription,
-- inputValueDeprecation), written for this spec.
local QUERY = [[
query Everything {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...TypeFull }
    directives {
      name description isRepeatable locations
      args(includeDeprecated: true) { ...Input }
    }
  }
}
fragment TypeFull on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description
    args(includeDeprecated: true) { ...Input }
    type { ...Ref }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...Input }
  interfaces { ...Ref }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...Ref }
}
fragment Input on __InputValue {
  name description type { ...Ref } defaultValue isDeprecated deprecationReason
}
fragment Ref on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
]]

local function literal(node)
  if node.kind == "BooleanValue" then return node.value end
  if node.kind == "StringValue" or node.kind == "EnumValue" then return node.value end
  error("the walker takes boolean and string literals only, not " .. node.kind)
end

-- Runs a document's first operation over schema's resolvers: a plain table of the result.
local function run(schema, text)
  local doc = assert(core.parse(text))
  local fragments, op = {}, nil
  for _, d in ipairs(doc.definitions) do
    if d.kind == "FragmentDefinition" then fragments[d.name] = d else op = op or d end
  end
  local complete
  local function select(t, value, set, out)
    for _, sel in ipairs(set.selections) do
      if sel.kind == "FragmentSpread" then
        select(t, value, fragments[sel.name].selectionSet, out)
      elseif sel.kind == "Field" then
        local f = t.fields[sel.name] or (t == schema.query and schema.meta[sel.name]) or
          (sel.name == "__typename" and schema.meta.__typename)
        assert(f, t.name .. " has no field " .. sel.name)
        local args = {}
        for _, a in ipairs(f.arg_list or {}) do
          if a.default_value then args[a.name] = literal(a.default_value) end
        end
        for _, a in ipairs(sel.arguments or {}) do args[a.name] = literal(a.value) end
        local v = f.resolve(value, args, {}, { schema = schema, parent_type = t,
          field_name = sel.name })
        out[sel.alias or sel.name] = complete(f.type, v, sel, t.name .. "." .. sel.name)
      end
    end
    return out
  end
  function complete(r, v, sel, where)
    if r.kind == "NON_NULL" then
      assert(v ~= nil, where .. " is non-null but resolved to nil")
      return complete(r.of_type, v, sel, where)
    end
    if v == nil then return nil end
    if r.kind == "LIST" then
      local items = {}
      for i, x in ipairs(v) do items[i] = complete(r.of_type, x, sel, where) end
      return items
    end
    if r.kind == "OBJECT" then return select(r, v, sel.selectionSet, {}) end
    if r.kind == "ENUM" then
      assert(r.values[v], where .. ": " .. tostring(v) .. " not in " .. r.name)
    end
    return v
  end
  return select(schema.query, nil, op.selectionSet, {})
end

local function by_name(list, name)
  for _, x in ipairs(list) do
    if x.name == name then return x end
  end
end

local function names(list)
  local out = {}
  for i, x in ipairs(list) do out[i] = x.name end
  return out
end

local function build(opts)
  local schema = assert(gschema.build({ { file = "s.graphql", text = SDL } }))
  return introspection.add(schema, opts)
end

describe("graphql introspection", function()
  it("answers a full introspection query: schema, root types, every type", function()
    local s = run(build{ enabled = true }, QUERY).__schema
    assert.equal("The shop's schema.", s.description)
    assert.same({ name = "Query" }, s.queryType)
    assert.is_nil(s.mutationType)
    for _, n in ipairs { "Query", "Store", "Node", "Role", "Filter", "Result", "DateTime",
      "String", "Boolean", "ID", "Int", "__Schema", "__Type", "__TypeKind", "__Field",
      "__InputValue", "__EnumValue", "__Directive", "__DirectiveLocation" } do
      assert.truthy(by_name(s.types, n), n .. " is not among the types")
    end
    assert.same({ "node", "stores" }, names(by_name(s.types, "Query").fields),
      "the meta fields are not fields of the query type")
  end)

  it("describes objects: fields, arguments, deprecation, interfaces", function()
    local store = by_name(run(build{ enabled = true }, QUERY).__schema.types, "Store")
    assert.equal("OBJECT", store.kind)
    assert.equal("A store.", store.description)
    assert.same({ "id", "name", "tags", "old", "openedAt" }, names(store.fields))
    assert.same({ { kind = "INTERFACE", name = "Node" } }, store.interfaces)
    assert.is_nil(store.enumValues)
    assert.is_nil(store.inputFields)
    assert.is_nil(store.possibleTypes)
    local name = by_name(store.fields, "name")
    assert.equal("Its name.", name.description)
    assert.same({ kind = "NON_NULL", ofType = { kind = "SCALAR", name = "String" } }, name.type)
    local old = by_name(store.fields, "old")
    assert.is_true(old.isDeprecated)
    assert.equal("No longer supported", old.deprecationReason)
    assert.is_false(name.isDeprecated)
    local tags = by_name(store.fields, "tags")
    assert.same({ kind = "NON_NULL", ofType = { kind = "LIST", ofType = { kind = "NON_NULL",
      ofType = { kind = "SCALAR", name = "String" } } } }, tags.type)
    assert.equal("10", by_name(tags.args, "first").defaultValue)
    assert.equal('{prefix: "x", roles: [CUSTOMER]}', by_name(tags.args, "filter").defaultValue)
  end)

  it("leaves deprecated fields, values, arguments and input fields out unless asked", function()
    local schema = build{ enabled = true }
    local t = run(schema, [[{ __type(name: "Store") { fields { name
      args { name } } } }]]).__type
    assert.same({ "id", "name", "tags", "openedAt" }, names(t.fields))
    local q = run(schema, [[{ __type(name: "Query") { fields { args { name } } } }]]).__type
    assert.same({ "after" }, names(q.fields[2].args))
    assert.same({ "after", "before" }, names(run(schema, [[{ __type(name: "Query") {
      fields { args(includeDeprecated: true) { name isDeprecated deprecationReason } } } }]])
      .__type.fields[2].args))
    local f = run(schema, [[{ __type(name: "Filter") { kind inputFields { name }
      all: inputFields(includeDeprecated: true) { name deprecationReason } } }]]).__type
    assert.equal("INPUT_OBJECT", f.kind)
    assert.same({ "prefix", "roles" }, names(f.inputFields))
    assert.same({ "prefix", "roles", "legacy" }, names(f.all))
    assert.equal("gone", f.all[3].deprecationReason)
    local e = run(schema, [[{ __type(name: "Role") { enumValues { name }
      all: enumValues(includeDeprecated: true) { name isDeprecated deprecationReason } } }]])
      .__type
    assert.same({ "CUSTOMER", "STAFF" }, names(e.enumValues))
    assert.same({ name = "ADMIN", isDeprecated = true, deprecationReason = "use STAFF" }, e.all[2])
  end)

  it("describes interfaces and unions by their possible types, scalars by specifiedByURL",
    function()
      local types = run(build{ enabled = true }, QUERY).__schema.types
      assert.same({ { kind = "OBJECT", name = "Store" } }, by_name(types, "Node").possibleTypes)
      assert.same({ { kind = "OBJECT", name = "Store" } }, by_name(types, "Result").possibleTypes)
      assert.same({}, by_name(types, "Node").interfaces)
      assert.is_nil(by_name(types, "Node").enumValues)
      local dt = by_name(types, "DateTime")
      assert.equal("SCALAR", dt.kind)
      assert.equal("A moment, RFC 3339.", dt.description)
      assert.equal("https://tools.ietf.org/html/rfc3339", dt.specifiedByURL)
      assert.is_nil(dt.fields)
      assert.is_nil(by_name(types, "String").specifiedByURL)
    end)

  it("describes directives: built-in and declared, repeatable, arguments' defaults", function()
    local ds = run(build{ enabled = true }, QUERY).__schema.directives
    assert.same({ "include", "skip", "deprecated", "specifiedBy", "auth" }, names(ds))
    local auth = by_name(ds, "auth")
    assert.equal("Who may call a field.", auth.description)
    assert.is_true(auth.isRepeatable)
    assert.same({ "FIELD_DEFINITION", "OBJECT" }, auth.locations)
    assert.equal("[ADMIN]", auth.args[1].defaultValue)
    assert.same({ kind = "LIST", ofType = { kind = "NON_NULL", ofType = { kind = "ENUM",
      name = "Role" } } }, auth.args[1].type)
    assert.equal("why", auth.args[2].description)
    assert.equal('"a\\"b"', auth.args[2].defaultValue)
    assert.is_true(auth.args[2].isDeprecated)
    local skip = by_name(ds, "skip")
    assert.is_false(skip.isRepeatable)
    assert.same({ "FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT" }, skip.locations)
    assert.same({ kind = "NON_NULL", ofType = { kind = "SCALAR", name = "Boolean" } },
      skip.args[1].type)
  end)

  it("introspects itself: the meta types as section 4 defines them", function()
    local schema = build{ enabled = true }
    local t = run(schema, [[{ __type(name: "__Type") { kind fields { name
      args { name defaultValue type { kind name ofType { name } } } } } }]]).__type
    assert.same({ "kind", "name", "description", "specifiedByURL", "fields", "interfaces",
      "possibleTypes", "enumValues", "inputFields", "ofType" }, names(t.fields))
    assert.same({ { name = "includeDeprecated", defaultValue = "false",
      type = { kind = "SCALAR", name = "Boolean" } } }, by_name(t.fields, "fields").args)
    local kinds = run(schema, [[{ __type(name: "__TypeKind") { enumValues { name } } }]])
    assert.same({ "SCALAR", "OBJECT", "INTERFACE", "UNION", "ENUM", "INPUT_OBJECT", "LIST",
      "NON_NULL" }, names(kinds.__type.enumValues))
    local loc = run(schema, [[{ __type(name: "__DirectiveLocation") { enumValues { name } } }]])
    assert.equal(19, #loc.__type.enumValues)
    assert.equal("VARIABLE_DEFINITION", loc.__type.enumValues[8].name)
    for name, want in pairs {
      __Schema = { "description", "types", "queryType", "mutationType", "subscriptionType",
        "directives" },
      __Field = { "name", "description", "args", "type", "isDeprecated", "deprecationReason" },
      __InputValue = { "name", "description", "type", "defaultValue", "isDeprecated",
        "deprecationReason" },
      __EnumValue = { "name", "description", "isDeprecated", "deprecationReason" },
      __Directive = { "name", "description", "isRepeatable", "locations", "args" },
    } do
      local got = run(schema, '{ __type(name: "' .. name .. '") { fields { name } } }')
      assert.same(want, names(got.__type.fields), name)
    end
  end)

  it("answers __type for a name, nil for an unknown one; __typename on any object", function()
    local schema = build{ enabled = true }
    assert.same({ kind = "ENUM", name = "Role" }, run(schema,
      '{ __type(name: "Role") { kind name } }').__type)
    assert.is_nil(run(schema, '{ __type(name: "Nope") { name } }').__type)
    assert.equal("Query", run(schema, "{ __typename }").__typename)
  end)

  it("off: __schema and __type raise INTROSPECTION_DISABLED, __typename still answers",
    function()
      local schema = build{ enabled = false }
      for _, q in ipairs { "{ __schema { description } }", '{ __type(name: "Query") { name } }' } do
        local ok, e = pcall(run, schema, q)
        assert.is_false(ok)
        assert.equal("INTROSPECTION_DISABLED", e.code)
      end
      assert.equal("Query", run(schema, "{ __typename }").__typename)
    end)
end)
