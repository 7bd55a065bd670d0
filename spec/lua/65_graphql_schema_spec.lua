-- speezy.graphql.schema and speezy.graphql.types: SDL built into the tables the validator and
-- the executor walk, and the type questions they ask.
local gschema = require "speezy.graphql.schema"
local json = require "speezy.json"
local scalars = require "speezy.graphql.scalars"
local types = require "speezy.graphql.types"
local core = require "speezy.graphql.core"

local SDL = [[
"The root"
type Query {
  "one pet"
  pet(id: ID!, kind: Kind = DOG @deprecated(reason: "use id")): Pet
  pets(first: Int = 10): [Pet!]!
  old: String @deprecated
  search(filter: Filter): [Result]
}
interface Named { name: String! }
interface Pet implements Named { name: String! }
type Dog implements Pet & Named { name: String! barks: Boolean }
type Cat implements Pet & Named { name: String! }
union Result = Dog | Cat
enum Kind { DOG CAT @deprecated(reason: "no cats") }
input Filter { name: String, kinds: [Kind!] = [DOG] }
scalar Date @specifiedBy(url: "https://tools.ietf.org/html/rfc3339")
directive @auth(roles: [Kind!]) repeatable on FIELD_DEFINITION | OBJECT
]]

local EXT = [[
extend type Query { date: Date }
extend enum Kind { BIRD }
extend union Result = Bird
type Bird implements Pet & Named { name: String! }
]]

local function build(...)
  local sources = {}
  for i, text in ipairs({ ... }) do sources[i] = { file = "s" .. i .. ".graphql", text = text } end
  return gschema.build(sources)
end

describe("graphql schema.build", function()
  it("builds types, fields, arguments and references", function()
    local s = assert(build(SDL))
    assert.equal(s.types.Query, s.query)
    assert.is_nil(s.mutation)
    assert.equal("The root", s.query.description)
    local pet = s.query.fields.pet
    assert.equal("one pet", pet.description)
    assert.equal(s.types.Pet, pet.type)
    assert.equal("ID!", types.string(pet.arg_list[1].type))
    assert.equal("use id", pet.args.kind.deprecation_reason)
    assert.same({ kind = "EnumValue", value = "DOG", line = 4, column = 29 },
      pet.args.kind.default_value)
    assert.equal("[Pet!]!", types.string(s.query.fields.pets.type))
    assert.equal("No longer supported", s.query.fields.old.deprecation_reason)
    assert.same({ "pet", "pets", "old", "search" }, (function()
      local names = {}
      for i, f in ipairs(s.query.field_list) do names[i] = f.name end
      return names
    end)())
    assert.equal("s1.graphql", pet.file)
    assert.equal(3, pet.line) -- a node starts at its description, as in graphql-js
  end)

  it("links interfaces, unions, enums, inputs, scalars and directives", function()
    local s = assert(build(SDL))
    local pet, dog = s.types.Pet, s.types.Dog
    assert.equal(s.types.Named, dog.interfaces[2])
    assert.same({ Dog = true, Cat = true }, pet.possible)
    assert.same({ Dog = true, Cat = true }, s.types.Named.possible)
    assert.equal(2, #s.types.Result.possible_types)
    assert.equal("no cats", s.types.Kind.values.CAT.deprecation_reason)
    assert.equal("[Kind!]", types.string(s.types.Filter.input_fields.kinds.type))
    assert.equal("https://tools.ietf.org/html/rfc3339", s.types.Date.specified_by)
    assert.is_nil(s.types.Date.serialize)
    local auth = s.directives.auth
    assert.is_true(auth.repeatable)
    assert.is_true(auth.locations.OBJECT)
    assert.is_false(auth.builtin)
    assert.same({ "include", "skip", "deprecated", "specifiedBy", "auth" }, (function()
      local names = {}
      for i, d in ipairs(s.directive_list) do names[i] = d.name end
      return names
    end)())
    assert.equal("No longer supported", s.directives.deprecated.args.reason.default_value.value)
    assert.equal("Boolean!", types.string(s.directives.skip.args["if"].type))
  end)

  it("includes only the built-in scalars the schema names, plus String and Boolean", function()
    local s = assert(build(SDL))
    assert.truthy(s.types.ID and s.types.Int and s.types.String and s.types.Boolean)
    assert.is_nil(s.types.Float)
    local other = assert(build(SDL))
    assert.is_true(s.types.Int ~= other.types.Int) -- no table shared between schemas
  end)

  it("merges extensions from later files", function()
    local s = assert(build(SDL, EXT))
    assert.equal(s.types.Date, s.query.fields.date.type)
    assert.truthy(s.types.Kind.values.BIRD)
    assert.is_true(s.types.Result.possible.Bird)
    assert.is_true(s.types.Pet.possible.Bird)
    assert.equal(2, #s.types.Query.asts)
    assert.equal("s2.graphql", s.types.Query.asts[2].file)
  end)

  it("takes root types from a schema definition", function()
    local s = assert(build("schema { query: Q mutation: M } type Q { a: Int } type M { b: Int }"
      .. " type Query { c: Int }"))
    assert.equal(s.types.Q, s.query)
    assert.equal(s.types.M, s.mutation)
  end)

  it("reports errors with file, line and column", function()
    local s, errs = build("type Query {\n  a: Missing\n}\ntype Query { b: Int }",
      "extend type Nope { x: Int }\nextend scalar Query @a\nquery { a }\n"
      .. "directive @skip on FIELD\ntype {")
    assert.is_nil(s)
    local got = {}
    for i, e in ipairs(errs) do
      got[i] = e.file .. ":" .. e.line .. ":" .. e.column .. " " .. e.message
    end
    assert.same({ -- a file that does not parse adds nothing else
      's1.graphql:4:1 There can be only one type named "Query".',
      's2.graphql:5:6 Syntax Error: Expected Name, found "{".',
      's1.graphql:2:6 Unknown type "Missing".',
    }, got)
    local _, errs1 = build("type Query { a: Int }", "extend type Nope { x: Int }")
    assert.same({ { message = 'Cannot extend type "Nope" because it is not defined.',
                    file = "s2.graphql", line = 1, column = 1 } }, errs1)
    local _, errs2 = build(
      "extend scalar Query @a type Query { a: Int }\nquery { a }\ndirective @skip on FIELD")
    local msgs = {}
    for i, e in ipairs(errs2) do msgs[i] = e.line .. " " .. e.message end
    table.sort(msgs)
    assert.same({
      '1 Cannot extend non-scalar type "Query".',
      '2 A schema file holds type system definitions only; found an operation.',
      '3 Directive "@skip" already exists in the schema. It cannot be redefined.',
    }, msgs)
  end)
end)

describe("graphql types", function()
  local s = assert(build(SDL))
  local function t(text)
    local doc = assert(core.parse("query($v: " .. text .. ") { old }"))
    return types.from_ast(s, doc.definitions[1].variableDefinitions[1].type)
  end

  it("reads type nodes and prints references", function()
    assert.equal("[[Kind!]]!", types.string(t("[[Kind!]]!")))
    assert.equal(t("[Int]"), t("[Int]"))
    assert.is_nil(t("[Nope]"))
    assert.equal(s.types.Kind, types.named(t("[[Kind!]]!")))
    assert.is_true(types.is_input(t("[Filter!]")))
    assert.is_false(types.is_input(s.types.Dog))
    assert.is_true(types.is_output(t("[Dog]")))
    assert.is_false(types.is_leaf(t("Int!")))
    assert.is_true(types.is_leaf(s.types.Kind))
    assert.is_true(types.is_abstract(s.types.Result))
    assert.is_true(types.is_composite(s.types.Dog))
  end)

  it("answers subtype, possibility and overlap questions as graphql-js does", function()
    local T = s.types
    assert.is_true(types.is_subtype(s, t("Int!"), t("Int")))
    assert.is_false(types.is_subtype(s, t("Int"), t("Int!")))
    assert.is_true(types.is_subtype(s, types.non_null(types.list(T.Dog)), types.list(T.Pet)))
    assert.is_false(types.is_subtype(s, types.list(T.Dog), T.Pet))
    assert.is_true(types.is_subtype(s, T.Pet, T.Named))
    assert.is_true(types.is_subtype(s, T.Dog, T.Result))
    assert.is_false(types.is_subtype(s, T.Pet, T.Result))
    assert.is_true(types.overlap(s, T.Pet, T.Result))
    assert.is_true(types.overlap(s, T.Dog, T.Named))
    assert.is_false(types.overlap(s, T.Dog, T.Cat))
  end)

  it("prints values and inspects runtime values like graphql-js", function()
    local doc = assert(core.parse(
      '{ f(a: {x: [1, 2.5, "q\\"\\n\\u0001", E, null, true], y: $v}) }'))
    local v = doc.definitions[1].selectionSet.selections[1].arguments[1].value
    assert.equal('{x: [1, 2.5, "q\\"\\n\\u0001", E, null, true], y: $v}', types.print_value(v))
    assert.equal('"a"', types.inspect("a"))
    assert.equal("[1, 2.5, null]", types.inspect(json.array { 1, 2.5, json.null }))
    assert.equal('{ a: true, b: { c: [Array] } }', types.inspect({ a = true, b = { c = { 1 } } }))
    assert.equal("{}", types.inspect({}))
  end)
end)

describe("graphql built-in scalars", function()
  local function lit(text)
    return assert(core.parse("{ f(a: " .. text .. ") }")).definitions[1].selectionSet
      .selections[1].arguments[1].value
  end
  local I, F, S, B, ID = scalars.builtin.Int, scalars.builtin.Float, scalars.builtin.String,
    scalars.builtin.Boolean, scalars.builtin.ID

  it("coerce results", function()
    assert.equal(3, I.serialize(3))
    assert.equal(1, I.serialize(true))
    assert.equal(7, I.serialize("7"))
    assert.same({ nil, "Int cannot represent non-integer value: 1.5" }, { I.serialize(1.5) })
    assert.same({ nil, "Int cannot represent non 32-bit signed integer value: 2147483648" },
      { I.serialize(2147483648) })
    assert.equal(1.5, F.serialize(1.5))
    assert.same({ nil, 'Float cannot represent non numeric value: "x"' }, { F.serialize("x") })
    assert.equal("1", S.serialize(1))
    assert.equal("1.5", S.serialize(1.5))
    assert.equal("true", S.serialize(true))
    assert.equal(false, B.serialize(0))
    assert.equal("12", ID.serialize(12))
    assert.same({ nil, "ID cannot represent value: true" }, { ID.serialize(true) })
  end)

  it("coerce variables strictly", function()
    assert.same({ nil, 'Int cannot represent non-integer value: "7"' }, { I.parse_value("7") })
    assert.equal(-2147483648, I.parse_value(-2147483648))
    assert.same({ nil, "String cannot represent a non string value: 1" }, { S.parse_value(1) })
    assert.same({ nil, "Boolean cannot represent a non boolean value: 1" }, { B.parse_value(1) })
    assert.equal("4", ID.parse_value(4))
    assert.equal(4, F.parse_value(4))
  end)

  it("coerce literals", function()
    assert.equal(5, I.parse_literal(lit("5")))
    assert.same({ nil, "Int cannot represent non-integer value: 5.0" },
      { I.parse_literal(lit("5.0")) })
    assert.same({ nil, "Int cannot represent non 32-bit signed integer value: 9999999999" },
      { I.parse_literal(lit("9999999999")) })
    assert.equal(5, F.parse_literal(lit("5")))
    assert.same({ nil, 'Float cannot represent non numeric value: "5"' },
      { F.parse_literal(lit('"5"')) })
    assert.equal("x", S.parse_literal(lit('"x"')))
    assert.same({ nil, "String cannot represent a non string value: X" },
      { S.parse_literal(lit("X")) })
    assert.equal(true, B.parse_literal(lit("true")))
    assert.equal("7", ID.parse_literal(lit("7")))
    assert.same({ nil, "ID cannot represent a non-string and non-integer value: 1.5" },
      { ID.parse_literal(lit("1.5")) })
  end)
end)
