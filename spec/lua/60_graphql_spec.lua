-- speezy.graphql.core: the C parser's AST as Lua tables, for the validator and executor of
-- issue #17 (host/bind/bind_graphql.c says the shape).
local core = require "speezy.graphql.core"

describe("graphql.core.parse", function()
  it("gives an operation's nodes with graphql-js's kinds and field names", function()
    local doc = assert(core.parse([[
query Q($id: ID! = "4", $n: Int) @op {
  me: user(id: $id) { ...F ... on User @skip(if: false) { name } }
}
fragment F on User { id }]]))
    assert.equal("Document", doc.kind)
    assert.equal(2, #doc.definitions)
    local op = doc.definitions[1]
    assert.equal("OperationDefinition", op.kind)
    assert.equal("query", op.operation)
    assert.equal("Q", op.name)
    assert.equal(1, op.line)
    assert.equal(1, op.column)
    local id = op.variableDefinitions[1]
    assert.equal("id", id.variable.name)
    assert.equal("NonNullType", id.type.kind)
    assert.equal("ID", id.type.type.name)
    assert.same({ kind = "StringValue", value = "4", line = 1, column = 20 }, id.defaultValue)
    assert.is_nil(op.variableDefinitions[2].defaultValue)
    assert.equal("op", op.directives[1].name)
    local field = op.selectionSet.selections[1]
    assert.equal("Field", field.kind)
    assert.equal("me", field.alias)
    assert.equal("user", field.name)
    assert.equal(2, field.line)
    assert.equal(3, field.column)
    assert.same({ kind = "Variable", name = "id", line = 2, column = 16 }, field.arguments[1].value)
    local spread, inline = field.selectionSet.selections[1], field.selectionSet.selections[2]
    assert.equal("FragmentSpread", spread.kind)
    assert.equal("F", spread.name)
    assert.equal("User", inline.typeCondition.name)
    assert.equal(false, inline.directives[1].arguments[1].value.value)
    assert.equal("name", inline.selectionSet.selections[1].name)
    assert.equal("FragmentDefinition", doc.definitions[2].kind)
    assert.is_nil(field.directives) -- an empty list is absent
  end)

  it("gives values: scalars as their text, lists, objects, null", function()
    local doc = assert(core.parse('{ f(a: [1, 2.5, "x\\u00e9", E, null, {k: true}]) }'))
    local list = doc.definitions[1].selectionSet.selections[1].arguments[1].value
    assert.equal("ListValue", list.kind)
    local kinds = {}
    for i, v in ipairs(list.values) do
      kinds[i] = v.kind
    end
    assert.same({ "IntValue", "FloatValue", "StringValue", "EnumValue", "NullValue",
      "ObjectValue" }, kinds)
    assert.equal("1", list.values[1].value)
    assert.equal("2.5", list.values[2].value)
    assert.equal("x\xc3\xa9", list.values[3].value)
    assert.equal("E", list.values[4].value)
    assert.is_nil(list.values[5].value)
    assert.equal("k", list.values[6].fields[1].name)
    assert.equal(true, list.values[6].fields[1].value.value)
  end)

  it("gives type system definitions", function()
    local doc = assert(core.parse([[
"""
  A thing
"""
type T implements A & B { f(x: Int = 1): [T!] }
union U = A | B
enum E { X Y }
schema { query: T }
directive @d repeatable on FIELD | QUERY]]))
    local t, u, e, s, d = unpack(doc.definitions)
    assert.equal("ObjectTypeDefinition", t.kind)
    assert.same({ kind = "StringValue", value = "A thing", block = true, line = 1, column = 1 },
      t.description)
    assert.equal("B", t.interfaces[2].name)
    assert.equal("1", t.fields[1].arguments[1].defaultValue.value)
    assert.equal("ListType", t.fields[1].type.kind)
    assert.equal("B", u.types[2].name)
    assert.equal("Y", e.values[2].name)
    assert.equal("query", s.operationTypes[1].operation)
    assert.equal("T", s.operationTypes[1].type.name)
    assert.equal(true, d.repeatable)
    assert.same({ "FIELD", "QUERY" }, d.locations)
  end)

  it("refuses a syntax error with graphql-js's message and its location", function()
    local doc, err = core.parse("{ a\n  b(: 1) }")
    assert.is_nil(doc)
    assert.equal("GRAPHQL_PARSE_FAILED", err.code)
    assert.equal('Syntax Error: Expected Name, found ":".', err.message)
    assert.equal(2, err.line)
    assert.equal(5, err.column)
  end)

  it("refuses nesting past max_depth and tokens past max_tokens", function()
    local _, err = core.parse("{a{b{c}}}", 2)
    assert.equal("GRAPHQL_LIMIT", err.code)
    assert.equal("Syntax Error: Document nests deeper than 2 levels. Parsing aborted.", err.message)
    assert.equal(5, err.column)
    assert.truthy(core.parse("{a{b}}", 2))
    _, err = core.parse("{ a b }", nil, 3)
    assert.equal("Syntax Error: Document contains more than 3 tokens. Parsing aborted.",
      err.message)
    -- the default depth bound holds a 10,000-deep document off the Lua and C stacks
    _, err = core.parse(string.rep("{a", 10000) .. string.rep("}", 10000))
    assert.equal("GRAPHQL_LIMIT", err.code)
    local deep = assert(core.parse(string.rep("{a", 512) .. string.rep("}", 512)))
    assert.equal("Document", deep.kind)
  end)
end)
