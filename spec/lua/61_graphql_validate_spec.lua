-- speezy.graphql.validate: every rule of graphql-js 16's specifiedRules on the examples and
-- counter-examples of the specification's section 5 (Validation), against the specification's
-- own example schema, with graphql-js's messages and locations.
local core = require "speezy.graphql.core"
local gschema = require "speezy.graphql.schema"
local validate = require "speezy.graphql.validate"

-- The specification's example schema (section 5), plus what its examples of subscriptions,
-- arguments and input objects use, and a repeatable directive.
local SDL = [[
type Query {
  dog: Dog
  findDog(complex: ComplexInput): Dog
  findStrict(input: StrictInput): Dog
  booleanList(booleanListArg: [Boolean!]): Boolean
  arguments: Arguments
  human: Human
  pet: Pet
  catOrDog: CatOrDog
  findOneOf(input: OneOfInput): Dog
}
type Subscription {
  newMessage: Message
  disallowedSecondRootField: Boolean
}
type Message { body: String sender: String }
enum DogCommand { SIT DOWN HEEL }
type Dog implements Pet {
  name: String!
  nickname: String
  barkVolume: Int
  doesKnowCommand(dogCommand: DogCommand!): Boolean!
  isHouseTrained(atOtherHomes: Boolean): Boolean!
  owner: Human
}
interface Sentient { name: String! }
interface Pet { name: String! }
type Alien implements Sentient { name: String! homePlanet: String }
type Human implements Sentient { name: String! pets: [Pet!] }
enum CatCommand { JUMP }
type Cat implements Pet {
  name: String!
  nickname: String
  doesKnowCommand(catCommand: CatCommand!): Boolean!
  meowVolume: Int
}
union CatOrDog = Cat | Dog
union DogOrHuman = Dog | Human
union HumanOrAlien = Human | Alien
input ComplexInput { name: String owner: String }
input StrictInput { name: String! owner: String = "x" }
input OneOfInput { stringField: String intField: Int }
type Arguments {
  multipleRequirements(x: Int!, y: Int!): Int!
  booleanArgField(booleanArg: Boolean): Boolean
  floatArgField(floatArg: Float): Float
  intArgField(intArg: Int): Int
  nonNullBooleanArgField(nonNullBooleanArg: Boolean!): Boolean!
  booleanListArgField(booleanListArg: [Boolean]!): [Boolean]
  optionalNonNullBooleanArgField(optionalBooleanArg: Boolean! = false): Boolean!
}
directive @tag(name: String) repeatable on FIELD
]]

local schema = assert(gschema.build({ { file = "validation.graphql", text = SDL } }))
-- graphql-js's @oneOf (its OneOfInput is the specification draft's): the flag the schema
-- builder sets for it
schema.types.OneOfInput.one_of = true

-- Where the nth occurrence of needle starts in text: { line, column }.
local function at(text, needle, nth)
  local pos = 0
  for _ = 1, nth or 1 do
    pos = assert(text:find(needle, pos + 1, true), needle)
  end
  local line, col = 1, 1
  for i = 1, pos - 1 do
    if text:sub(i, i) == "\n" then
      line, col = line + 1, 1
    else
      col = col + 1
    end
  end
  return { line, col }
end

-- The errors of a document as { message, { { line, column }, ... } } each.
local function errors_of(text, rule_names, ctx_out)
  local doc = assert(core.parse(text))
  local rules
  if rule_names then
    rules = {}
    for i, name in ipairs(rule_names) do
      local rule = assert(validate.rules[name], name)
      rules[i] = function(ctx)
        if ctx_out then
          ctx_out.ctx = ctx
        end
        return rule(ctx)
      end
    end
  end
  local out = {}
  for i, e in ipairs(validate.validate(schema, doc, rules)) do
    assert.equal("GRAPHQL_VALIDATION_FAILED", e.extensions.code)
    local locs = {}
    for j, l in ipairs(e.locations or {}) do
      locs[j] = { l.line, l.column }
    end
    out[i] = { e.message, locs }
  end
  return out
end

local function check(rule, text, expected)
  assert.same(expected, errors_of(text, { rule }))
end

local function valid(rule, text)
  check(rule, text, {})
end

describe("graphql.validate", function()
  it("lists graphql-js 16's specifiedRules in their order", function()
    assert.equal(27, #validate.specified_rules)
    assert.equal("ExecutableDefinitions", validate.rule_names[1])
    assert.equal("UniqueInputFieldNames", validate.rule_names[26])
    assert.equal("MaxIntrospectionDepth", validate.rule_names[27])
    for i, name in ipairs(validate.rule_names) do
      assert.equal(validate.rules[name], validate.specified_rules[i])
    end
  end)

  it("ExecutableDefinitions: only operations and fragments (5.1.1)", function()
    valid("ExecutableDefinitions", "query getDogName { dog { name } }\nfragment f on Dog { name }")
    local q = "{ dog { name } }\ntype Cow { a: Int }\nschema { query: Query }"
    check("ExecutableDefinitions", q, {
      { 'The "Cow" definition is not executable.', { at(q, "type") } },
      { "The schema definition is not executable.", { at(q, "schema") } },
    })
  end)

  it("UniqueOperationNames: one operation per name (5.2.1.1)", function()
    valid("UniqueOperationNames",
      "query getDogName { dog { name } }\nquery getOwnerName { dog { owner { name } } }")
    local q = "query getName { dog { name } }\nquery getName { dog { owner { name } } }"
    check("UniqueOperationNames", q, {
      { 'There can be only one operation named "getName".', { { 1, 7 }, { 2, 7 } } },
    })
  end)

  it("LoneAnonymousOperation: an anonymous operation stands alone (5.2.2.1)", function()
    valid("LoneAnonymousOperation", "{ dog { name } }")
    local q = "{ dog { name } }\nquery getName { dog { owner { name } } }"
    check("LoneAnonymousOperation", q, {
      { "This anonymous operation must be the only defined operation.", { { 1, 1 } } },
    })
  end)

  it("SingleFieldSubscriptions: one root field, fragments followed (5.2.3.1)", function()
    valid("SingleFieldSubscriptions", "subscription sub { newMessage { body sender } }")
    valid("SingleFieldSubscriptions", "subscription sub { ...f }\n"
      .. "fragment f on Subscription { newMessage { body } }")
    local q = "subscription sub { ...multipleSubscriptions }\nfragment multipleSubscriptions "
      .. "on Subscription { newMessage { body sender } disallowedSecondRootField }"
    check("SingleFieldSubscriptions", q, {
      { 'Subscription "sub" must select only one top level field.',
        { at(q, "disallowedSecondRootField") } },
    })
    q = "subscription { newMessage { body } __typename }"
    check("SingleFieldSubscriptions", q, {
      { "Anonymous Subscription must select only one top level field.",
        { at(q, "__typename") } },
      { "Anonymous Subscription must not select an introspection top level field.",
        { at(q, "__typename") } },
    })
    -- a literal @skip leaves the second field out
    valid("SingleFieldSubscriptions",
      "subscription s { newMessage { body } disallowedSecondRootField @skip(if: true) }")
  end)

  it("KnownTypeNames: every named type exists, with suggestions (5.5.1.2)", function()
    valid("KnownTypeNames",
      "query ($v: ComplexInput) { dog { ... on Dog { name } ...F } }\nfragment F on Pet { name }")
    local q = "query ($v: Complexinput) { dog { ... on Dgo { name } } }\n"
      .. "fragment F on Peet { name }"
    check("KnownTypeNames", q, {
      { 'Unknown type "Complexinput". Did you mean "ComplexInput"?', { at(q, "Complexinput") } },
      { 'Unknown type "Dgo". Did you mean "Dog"?', { at(q, "Dgo") } },
      { 'Unknown type "Peet". Did you mean "Pet"?', { at(q, "Peet") } },
    })
  end)

  it("FragmentsOnCompositeTypes: conditions on objects, interfaces, unions (5.5.1.3)", function()
    valid("FragmentsOnCompositeTypes", "fragment fragOnObject on Dog { name }\n"
      .. "fragment fragOnInterface on Pet { name }\nfragment fragOnUnion on CatOrDog { "
      .. "... on Dog { name } }\n{ dog { ... { name } } }")
    local q = "fragment fragOnScalar on Int { something }\n"
      .. "{ dog { ... on Boolean { somethingElse } } }"
    check("FragmentsOnCompositeTypes", q, {
      { 'Fragment "fragOnScalar" cannot condition on non composite type "Int".',
        { at(q, "Int") } },
      { 'Fragment cannot condition on non composite type "Boolean".', { at(q, "Boolean") } },
    })
  end)

  it("VariablesAreInputTypes: variables of scalars, enums, input objects (5.8.2)", function()
    valid("VariablesAreInputTypes", "query takesBoolean($atOtherHomes: Boolean) { __typename }\n"
      .. "query takesComplexInput($complexInput: ComplexInput) { __typename }\n"
      .. "query TakesListOfBooleanBang($booleans: [Boolean!]) { __typename }")
    local q = "query takesCat($cat: Cat) { __typename }\n"
      .. "query takesDogBang($dog: Dog!) { __typename }\n"
      .. "query takesListOfPet($pets: [Pet]) { __typename }\n"
      .. "query takesCatOrDog($catOrDog: CatOrDog) { __typename }"
    check("VariablesAreInputTypes", q, {
      { 'Variable "$cat" cannot be non-input type "Cat".', { at(q, "Cat)") } },
      { 'Variable "$dog" cannot be non-input type "Dog!".', { at(q, "Dog!") } },
      { 'Variable "$pets" cannot be non-input type "[Pet]".', { at(q, "[Pet]") } },
      { 'Variable "$catOrDog" cannot be non-input type "CatOrDog".', { at(q, "CatOrDog)") } },
    })
  end)

  it("ScalarLeafs: leaves have no selection, the rest must have one (5.3.3)", function()
    valid("ScalarLeafs", "fragment scalarSelection on Dog { barkVolume owner { name } }")
    local q = "fragment scalarSelectionsNotAllowedOnInt on Dog { barkVolume { sinceWhen } }\n"
      .. "{ human }\n{ dog { owner { pets } } }"
    check("ScalarLeafs", q, {
      { 'Field "barkVolume" must not have a selection since type "Int" has no subfields.',
        { at(q, "{ sinceWhen") } },
      { 'Field "human" of type "Human" must have a selection of subfields. '
        .. 'Did you mean "human { ... }"?', { at(q, "human") } },
      { 'Field "pets" of type "[Pet!]" must have a selection of subfields. '
        .. 'Did you mean "pets { ... }"?', { at(q, "pets") } },
    })
  end)

  it("FieldsOnCorrectType: fields exist on their type, with suggestions (5.3.1)", function()
    valid("FieldsOnCorrectType", "fragment interfaceFieldSelection on Pet { name }\n"
      .. "fragment inDirectFieldSelectionOnUnion on CatOrDog { __typename ... on Pet { name } "
      .. "... on Dog { barkVolume } }\n{ __typename dog { __typename } }")
    local q = "fragment fieldNotDefined on Dog { meowVolume }\n"
      .. "fragment aliasedLyingFieldTargetNotDefined on Dog { barkVolume: kawVolume }\n"
      .. "fragment definedOnImplementorsButNotInterface on Pet { nickname }\n"
      .. "fragment directFieldSelectionOnUnion on CatOrDog { directField }\n"
      .. "fragment definedOnImplementorsQueriedOnUnion on CatOrDog { name }"
    check("FieldsOnCorrectType", q, {
      { 'Cannot query field "meowVolume" on type "Dog". Did you mean "barkVolume"?',
        { at(q, "meowVolume") } },
      { 'Cannot query field "kawVolume" on type "Dog". Did you mean "barkVolume"?',
        { at(q, "barkVolume: kawVolume") } },
      { 'Cannot query field "nickname" on type "Pet". Did you mean to use an inline fragment on '
        .. '"Cat" or "Dog"?', { at(q, "nickname") } },
      { 'Cannot query field "directField" on type "CatOrDog".', { at(q, "directField }") } },
      { 'Cannot query field "name" on type "CatOrDog". Did you mean to use an inline fragment '
        .. 'on "Pet", "Cat", or "Dog"?', { at(q, "name }", 2) } },
    })
  end)

  it("UniqueFragmentNames: one fragment per name (5.5.1.1)", function()
    valid("UniqueFragmentNames", "{ dog { ...fragmentOne ...fragmentTwo } }\n"
      .. "fragment fragmentOne on Dog { name }\nfragment fragmentTwo on Dog { owner { name } }")
    local q = "{ dog { ...fragmentOne } }\nfragment fragmentOne on Dog { name }\n"
      .. "fragment fragmentOne on Dog { owner { name } }"
    check("UniqueFragmentNames", q, {
      { 'There can be only one fragment named "fragmentOne".', { { 2, 10 }, { 3, 10 } } },
    })
  end)

  it("KnownFragmentNames: spreads name defined fragments (5.5.2.1)", function()
    valid("KnownFragmentNames",
      "{ dog { ...nameFragment } }\nfragment nameFragment on Dog { name }")
    local q = "{ dog { ...undefinedFragment } }"
    check("KnownFragmentNames", q, {
      { 'Unknown fragment "undefinedFragment".', { at(q, "undefinedFragment") } },
    })
  end)

  it("NoUnusedFragments: every fragment is spread (5.5.1.4)", function()
    valid("NoUnusedFragments", "{ dog { ...a } }\nfragment a on Dog { ...b }\n"
      .. "fragment b on Dog { name }")
    local q = "fragment nameFragment on Dog { name }\n{ dog { name } }"
    check("NoUnusedFragments", q, { { 'Fragment "nameFragment" is never used.', { { 1, 1 } } } })
  end)

  it("PossibleFragmentSpreads: a spread's type can overlap its parent's (5.5.2.3)", function()
    valid("PossibleFragmentSpreads", "fragment dogFragment on Dog { ... on Dog { barkVolume } }\n"
      .. "fragment petNameFragment on Pet { name }\n"
      .. "fragment interfaceWithinObjectFragment on Dog { ...petNameFragment }\n"
      .. "fragment catOrDogNameFragment on CatOrDog { ... on Cat { meowVolume } }\n"
      .. "fragment unionWithObjectFragment on Dog { ...catOrDogNameFragment }\n"
      .. "fragment petFragment on Pet { name ... on Dog { barkVolume } }\n"
      .. "fragment unionWithInterface on Pet { ...dogOrHumanFragment }\n"
      .. "fragment dogOrHumanFragment on DogOrHuman { ... on Dog { barkVolume } }")
    local q = "fragment catInDogFragmentInvalid on Dog { ... on Cat { meowVolume } }\n"
      .. "fragment sentientFragment on Sentient { ... on Dog { barkVolume } }\n"
      .. "fragment humanOrAlienFragment on HumanOrAlien { ... on Cat { meowVolume } }\n"
      .. "fragment nonIntersectingInterfaces on Pet { ...sentientFragment }"
    check("PossibleFragmentSpreads", q, {
      { 'Fragment cannot be spread here as objects of type "Dog" can never be of type "Cat".',
        { at(q, "... on Cat") } },
      { 'Fragment cannot be spread here as objects of type "Sentient" can never be of type '
        .. '"Dog".', { at(q, "... on Dog") } },
      { 'Fragment cannot be spread here as objects of type "HumanOrAlien" can never be of type '
        .. '"Cat".', { at(q, "... on Cat", 2) } },
      { 'Fragment "sentientFragment" cannot be spread here as objects of type "Pet" can never '
        .. 'be of type "Sentient".', { at(q, "...sentientFragment") } },
    })
  end)

  it("NoFragmentCycles: spreads form no cycle (5.5.2.2)", function()
    valid("NoFragmentCycles", "{ dog { ...nameFragment } }\n"
      .. "fragment nameFragment on Dog { name ...barkVolumeFragment }\n"
      .. "fragment barkVolumeFragment on Dog { barkVolume }")
    local q = "{ dog { ...nameFragment } }\n"
      .. "fragment nameFragment on Dog { name ...barkVolumeFragment }\n"
      .. "fragment barkVolumeFragment on Dog { barkVolume ...nameFragment }\n"
      .. "fragment self on Dog { owner { name } ...self }"
    check("NoFragmentCycles", q, {
      { 'Cannot spread fragment "nameFragment" within itself via "barkVolumeFragment".',
        { at(q, "...barkVolumeFragment"), at(q, "...nameFragment", 2) } },
      { 'Cannot spread fragment "self" within itself.', { at(q, "...self") } },
    })
  end)

  it("NoFragmentCycles: a chain of 3,000 fragments is a loop, not a deep stack", function()
    local n = 3000
    local parts = { "{ dog { ...F1 } }" }
    for i = 1, n do
      parts[#parts + 1] = ("fragment F%d on Dog { name ...F%d }"):format(i, i % n + 1)
    end
    local errs = errors_of(table.concat(parts, "\n"), { "NoFragmentCycles" })
    assert.equal(1, #errs)
    assert.equal(n, #errs[1][2])
    assert.matches('^Cannot spread fragment "F1" within itself via "F2", "F3", ', errs[1][1])
    assert.matches('"F3000"%.$', errs[1][1])
    -- under every rule: the cycle, then graphql-js's budget stops the comparison of each
    -- fragment's fields with the whole chain (quadratic) early
    local all = errors_of(table.concat(parts, "\n"))
    assert.equal(2, #all)
    assert.equal(errs[1][1], all[1][1])
    assert.same({ "Validation aborted.", {} }, all[2])
  end)

  it("UniqueVariableNames: one variable per name (5.8.1)", function()
    valid("UniqueVariableNames", "query A($atOtherHomes: Boolean) { __typename }\n"
      .. "query B($atOtherHomes: Boolean) { __typename }")
    local q = "query houseTrainedQuery($atOtherHomes: Boolean, $atOtherHomes: Boolean) "
      .. "{ dog { isHouseTrained(atOtherHomes: $atOtherHomes) } }"
    check("UniqueVariableNames", q, {
      { 'There can be only one variable named "$atOtherHomes".',
        { at(q, "atOtherHomes:"), at(q, "atOtherHomes:", 2) } },
    })
  end)

  it("NoUndefinedVariables: every variable used is defined (5.8.3)", function()
    valid("NoUndefinedVariables", "query variableIsDefinedUsedInSingleFragment("
      .. "$atOtherHomes: Boolean) { dog { ...isHouseTrainedFragment } }\n"
      .. "fragment isHouseTrainedFragment on Dog { isHouseTrained(atOtherHomes: $atOtherHomes) }")
    local q = "query variableIsNotDefined { dog { isHouseTrained(atOtherHomes: $atOtherHomes) } }"
    check("NoUndefinedVariables", q, {
      { 'Variable "$atOtherHomes" is not defined by operation "variableIsNotDefined".',
        { at(q, "$atOtherHomes"), { 1, 1 } } },
    })
    -- through a fragment defined after the operations, one of which defines it
    q = "query housetrainedQueryOne($atOtherHomes: Boolean) { dog { ...isHouseTrainedFragment } }"
      .. "\nquery housetrainedQueryTwoNotDefined { dog { ...isHouseTrainedFragment } }\n"
      .. "fragment isHouseTrainedFragment on Dog { isHouseTrained(atOtherHomes: $atOtherHomes) }"
    check("NoUndefinedVariables", q, {
      { 'Variable "$atOtherHomes" is not defined by operation '
        .. '"housetrainedQueryTwoNotDefined".', { at(q, "$atOtherHomes", 2), { 2, 1 } } },
    })
    q = "{ dog { isHouseTrained(atOtherHomes: $x) } }"
    check("NoUndefinedVariables", q, {
      { 'Variable "$x" is not defined.', { at(q, "$x"), { 1, 1 } } },
    })
  end)

  it("NoUnusedVariables: every variable defined is used (5.8.4)", function()
    valid("NoUnusedVariables", "query variableUsedInFragment($atOtherHomes: Boolean) "
      .. "{ dog { ...isHouseTrainedFragment } }\nfragment isHouseTrainedFragment on Dog "
      .. "{ isHouseTrained(atOtherHomes: $atOtherHomes) }")
    local q = "query variableUnused($atOtherHomes: Boolean) { dog { isHouseTrained } }\n"
      .. "query ($x: Int) { dog { name } }"
    check("NoUnusedVariables", q, {
      { 'Variable "$atOtherHomes" is never used in operation "variableUnused".',
        { at(q, "$atOtherHomes") } },
      { 'Variable "$x" is never used.', { at(q, "$x") } },
    })
  end)

  it("KnownDirectives: directives exist and stand where they may (5.7.1, 5.7.2)", function()
    valid("KnownDirectives", "{ dog @include(if: true) { name ...F @skip(if: false) "
      .. "... @include(if: true) { name } } }\nfragment F on Dog { name }")
    local q = "{ dog @unknown { name } }\nquery @skip(if: true) { dog { name @deprecated } }"
    check("KnownDirectives", q, {
      { 'Unknown directive "@unknown".', { at(q, "@unknown") } },
      { 'Directive "@skip" may not be used on QUERY.', { at(q, "@skip") } },
      { 'Directive "@deprecated" may not be used on FIELD.', { at(q, "@deprecated") } },
    })
  end)

  it("UniqueDirectivesPerLocation: a directive once per place, unless repeatable (5.7.3)",
    function()
      valid("UniqueDirectivesPerLocation", "{ dog @skip(if: false) { name @skip(if: false) } "
        .. "human @tag(name: \"a\") @tag(name: \"b\") { name } }")
      local q = "{ dog @skip(if: true) @skip(if: false) { name } }"
      check("UniqueDirectivesPerLocation", q, {
        { 'The directive "@skip" can only be used once at this location.',
          { at(q, "@skip"), at(q, "@skip", 2) } },
      })
    end)

  it("KnownArgumentNames: arguments exist on their field or directive (5.4.1)", function()
    valid("KnownArgumentNames", "fragment argOnRequiredArg on Dog { doesKnowCommand("
      .. "dogCommand: SIT) }\nfragment multipleArgs on Arguments { multipleRequirements(x: 1, "
      .. "y: 2) }\nfragment multipleArgsReverseOrder on Arguments { multipleRequirements(y: 2, "
      .. "x: 1) @include(if: true) }")
    local q = "fragment invalidArgName on Dog { doesKnowCommand(command: CLEAN_UP_HOUSE) }\n"
      .. "fragment invalidDirectiveArg on Dog { isHouseTrained(atOtherHomes: true) "
      .. "@include(unless: false) }"
    check("KnownArgumentNames", q, {
      { 'Unknown argument "command" on field "Dog.doesKnowCommand". Did you mean "dogCommand"?',
        { at(q, "command:") } },
      { 'Unknown argument "unless" on directive "@include".', { at(q, "unless") } },
    })
  end)

  it("UniqueArgumentNames: an argument once per field or directive (5.4.2)", function()
    valid("UniqueArgumentNames", "fragment f on Arguments { multipleRequirements(x: 1, y: 2) "
      .. "@skip(if: false) }")
    local q = "{ dog @skip(if: true, if: false) { isHouseTrained(atOtherHomes: true, "
      .. "atOtherHomes: false) } }"
    check("UniqueArgumentNames", q, {
      { 'There can be only one argument named "if".', { at(q, "if:"), at(q, "if:", 2) } },
      { 'There can be only one argument named "atOtherHomes".',
        { at(q, "atOtherHomes"), at(q, "atOtherHomes", 2) } },
    })
  end)

  it("ValuesOfCorrectType: literals fit their position (5.6.1)", function()
    valid("ValuesOfCorrectType", "fragment goodBooleanArg on Arguments { booleanArgField("
      .. "booleanArg: true) }\nfragment coercedIntIntoFloatArg on Arguments { floatArgField("
      .. "floatArg: 123) }\nquery goodComplexDefaultValue($search: ComplexInput = { name: "
      .. "\"Fido\" }) { findDog(complex: $search) { name } }\n{ arguments { booleanListArgField("
      .. "booleanListArg: true) } dog { doesKnowCommand(dogCommand: SIT) } }")
    local q = "fragment stringIntoInt on Arguments { intArgField(intArg: \"123\") }\n"
      .. "query badComplexValue { findDog(complex: { name: 123 }) { name } }\n"
      .. "{ dog { a: doesKnowCommand(dogCommand: sit) b: doesKnowCommand(dogCommand: \"SIT\") } }"
    check("ValuesOfCorrectType", q, {
      { 'Int cannot represent non-integer value: "123"', { at(q, '"123"') } },
      { "String cannot represent a non string value: 123", { at(q, "123 }") } },
      { 'Value "sit" does not exist in "DogCommand" enum. Did you mean the enum value "SIT"?',
        { at(q, "sit") } },
      { 'Enum "DogCommand" cannot represent non-enum value: "SIT". Did you mean the enum value '
        .. '"SIT"?', { at(q, '"SIT"') } },
    })
    q = "query ($a: Int = \"x\") { arguments { nonNullBooleanArgField(nonNullBooleanArg: null) "
      .. "intArgField(intArg: 3000000000) booleanListArgField(booleanListArg: [true, \"x\"]) "
      .. "floatArgField(floatArg: [1]) } findDog(complex: [1]) { name } }"
    check("ValuesOfCorrectType", q, {
      { 'Int cannot represent non-integer value: "x"', { at(q, '"x"') } },
      { 'Expected value of type "Boolean!", found null.', { at(q, "null") } },
      { "Int cannot represent non 32-bit signed integer value: 3000000000",
        { at(q, "3000000000") } },
      { 'Boolean cannot represent a non boolean value: "x"', { at(q, '"x"', 2) } },
      { "Float cannot represent non numeric value: [1]", { at(q, "[1]") } },
      { 'Expected value of type "ComplexInput", found [1].', { at(q, "[1]", 2) } },
    })
  end)

  it("ValuesOfCorrectType: input object fields exist and required ones are given (5.6.2, "
    .. "5.6.4)", function()
    valid("ValuesOfCorrectType", "{ findStrict(input: { name: \"a\" }) { name } }")
    local q = "{ findDog(complex: { favoriteCookieFlavor: \"Bacon\", nme: \"x\" }) { name } "
      .. "findStrict(input: { owner: \"x\" }) { name } }"
    check("ValuesOfCorrectType", q, {
      { 'Field "favoriteCookieFlavor" is not defined by type "ComplexInput".',
        { at(q, "favoriteCookieFlavor") } },
      { 'Field "nme" is not defined by type "ComplexInput". Did you mean "name"?',
        { at(q, "nme") } },
      { 'Field "StrictInput.name" of required type "String!" was not provided.',
        { at(q, "{ owner") } },
    })
  end)

  it("ValuesOfCorrectType: a OneOf input object takes exactly one non-null field", function()
    valid("ValuesOfCorrectType", "{ findOneOf(input: { intField: 1 }) { name } }")
    local q = "{ a: findOneOf(input: { stringField: \"a\", intField: 1 }) { name } "
      .. "b: findOneOf(input: { stringField: null }) { name } c: findOneOf(input: {}) { name } }"
    check("ValuesOfCorrectType", q, {
      { 'OneOf Input Object "OneOfInput" must specify exactly one key.',
        { at(q, "{ stringField") } },
      { 'Field "OneOfInput.stringField" must be non-null.', { at(q, "{ stringField", 2) } },
      { 'OneOf Input Object "OneOfInput" must specify exactly one key.', { at(q, "{}") } },
    })
  end)

  it("ProvidedRequiredArguments: required arguments are given (5.4.2.1)", function()
    valid("ProvidedRequiredArguments", "fragment goodBooleanArg on Arguments { booleanArgField"
      .. " optionalNonNullBooleanArgField nonNullBooleanArgField(nonNullBooleanArg: true) }\n"
      .. "{ dog @include(if: true) { name } }")
    local q = "fragment missingRequiredArg on Arguments { nonNullBooleanArgField "
      .. "multipleRequirements(x: 1) }\n{ dog @include { name } }"
    check("ProvidedRequiredArguments", q, {
      { 'Field "nonNullBooleanArgField" argument "nonNullBooleanArg" of type "Boolean!" is '
        .. "required, but it was not provided.", { at(q, "nonNullBooleanArgField") } },
      { 'Field "multipleRequirements" argument "y" of type "Int!" is required, but it was not '
        .. "provided.", { at(q, "multipleRequirements") } },
      { 'Directive "@include" argument "if" of type "Boolean!" is required, but it was not '
        .. "provided.", { at(q, "@include") } },
    })
  end)

  it("VariablesInAllowedPosition: variables fit where they are used (5.8.5)", function()
    valid("VariablesInAllowedPosition", "query nonNullListToList($nonNullBooleanList: [Boolean]!)"
      .. " { arguments { booleanListArgField(booleanListArg: $nonNullBooleanList) } }\n"
      .. "query booleanArgQueryWithDefault($booleanArg: Boolean) { arguments { "
      .. "optionalNonNullBooleanArgField(optionalBooleanArg: $booleanArg) } }\n"
      .. "query booleanArgQueryWithDefault2($booleanArg: Boolean = true) { arguments { "
      .. "nonNullBooleanArgField(nonNullBooleanArg: $booleanArg) } }")
    local q = "query intCannotGoIntoBoolean($intArg: Int) { arguments { booleanArgField("
      .. "booleanArg: $intArg) } }\nquery booleanArgQuery($booleanArg: Boolean) { arguments { "
      .. "...F } }\nquery listToNonNullList($booleanList: [Boolean]) { booleanList("
      .. "booleanListArg: $booleanList) }\nfragment F on Arguments { nonNullBooleanArgField("
      .. "nonNullBooleanArg: $booleanArg) }"
    check("VariablesInAllowedPosition", q, {
      { 'Variable "$intArg" of type "Int" used in position expecting type "Boolean".',
        { at(q, "$intArg"), at(q, "$intArg", 2) } },
      { 'Variable "$booleanArg" of type "Boolean" used in position expecting type "Boolean!".',
        { at(q, "$booleanArg"), at(q, "$booleanArg", 2) } },
      { 'Variable "$booleanList" of type "[Boolean]" used in position expecting type '
        .. '"[Boolean!]".', { at(q, "$booleanList"), at(q, "$booleanList", 2) } },
    })
  end)

  it("VariablesInAllowedPosition: a OneOf input object's field takes a non-null variable",
    function()
      valid("VariablesInAllowedPosition", "query ($s: String!) { findOneOf(input: { "
        .. "stringField: $s }) { name } }")
      local q = "query ($s: String) { findOneOf(input: { stringField: $s }) { name } }"
      check("VariablesInAllowedPosition", q, {
        { 'Variable "$s" is of type "String" but must be non-nullable to be used for OneOf '
          .. 'Input Object "OneOfInput".', { at(q, "$s"), at(q, "$s", 2) } },
      })
    end)

  it("OverlappingFieldsCanBeMerged: same response name, same field (5.3.2)", function()
    valid("OverlappingFieldsCanBeMerged", "fragment mergeIdenticalFields on Dog { name name }\n"
      .. "fragment mergeIdenticalAliasesAndFields on Dog { otherName: name otherName: name }\n"
      .. "fragment mergeIdenticalFieldsWithIdenticalArgs on Dog { doesKnowCommand(dogCommand: "
      .. "SIT) doesKnowCommand(dogCommand: SIT) }\nfragment mergeIdenticalFieldsWithIdentical"
      .. "Values on Dog { doesKnowCommand(dogCommand: $dogCommand) doesKnowCommand(dogCommand: "
      .. "$dogCommand) }\nfragment safeDifferingFields on Pet { ... on Dog { volume: barkVolume }"
      .. " ... on Cat { volume: meowVolume } }\nfragment safeDifferingArgs on Pet { ... on Dog { "
      .. "doesKnowCommand(dogCommand: SIT) } ... on Cat { doesKnowCommand(catCommand: JUMP) } }")
    local q = "fragment conflictingBecauseAlias on Dog { name: nickname name }\n"
      .. "fragment conflictingArgsOnValues on Dog { doesKnowCommand(dogCommand: SIT) "
      .. "doesKnowCommand(dogCommand: HEEL) }\nfragment differingArgs on Dog { "
      .. "isHouseTrained(atOtherHomes: true) isHouseTrained }\n"
      .. "fragment conflictingDifferingResponses on Pet { ... on Dog { someValue: nickname } "
      .. "... on Cat { someValue: meowVolume } }"
    local tail = " Use different aliases on the fields to fetch both if this was intentional."
    check("OverlappingFieldsCanBeMerged", q, {
      { 'Fields "name" conflict because "nickname" and "name" are different fields.' .. tail,
        { at(q, "name: nickname"), at(q, "name }") } },
      { 'Fields "doesKnowCommand" conflict because they have differing arguments.' .. tail,
        { at(q, "doesKnowCommand(dogCommand: SIT)"), at(q, "doesKnowCommand(dogCommand: HEEL") } },
      { 'Fields "isHouseTrained" conflict because they have differing arguments.' .. tail,
        { at(q, "isHouseTrained("), at(q, "isHouseTrained }") } },
      { 'Fields "someValue" conflict because they return conflicting types "String" and "Int".'
        .. tail, { at(q, "someValue: nickname"), at(q, "someValue: meowVolume") } },
    })
  end)

  it("OverlappingFieldsCanBeMerged: subfields and fragments are compared too", function()
    local tail = " Use different aliases on the fields to fetch both if this was intentional."
    local q = "{ dog { name: nickname } dog { name } }"
    check("OverlappingFieldsCanBeMerged", q, {
      { 'Fields "dog" conflict because subfields "name" conflict because "nickname" and "name" '
        .. "are different fields." .. tail,
        { at(q, "dog"), at(q, "name: nickname"), at(q, "dog", 2), at(q, "name }", 2) } },
    })
    q = "{ dog { ...A ...B } }\nfragment A on Dog { x: name }\nfragment B on Dog { x: nickname }"
    check("OverlappingFieldsCanBeMerged", q, {
      { 'Fields "x" conflict because "name" and "nickname" are different fields.' .. tail,
        { at(q, "x: name"), at(q, "x: nickname") } },
    })
    q = "{ dog { x: barkVolume ...A } }\nfragment A on Dog { x: nickname }"
    check("OverlappingFieldsCanBeMerged", q, {
      { 'Fields "x" conflict because "barkVolume" and "nickname" are different fields.' .. tail,
        { at(q, "x: barkVolume"), at(q, "x: nickname") } },
    })
    -- object fields compare whatever their order: the same argument twice
    valid("OverlappingFieldsCanBeMerged", "{ findDog(complex: { name: \"a\", owner: \"b\" }) "
      .. "{ name } findDog(complex: { owner: \"b\", name: \"a\" }) { name } }")
  end)

  it("OverlappingFieldsCanBeMerged: 1,000 aliases of a field compare no pair", function()
    local parts = { "{" }
    for i = 1, 1000 do
      parts[#parts + 1] = ("a%d: dog { name }"):format(i)
    end
    parts[#parts + 1] = "}"
    local seen = {}
    assert.same({}, errors_of(table.concat(parts, " "), { "OverlappingFieldsCanBeMerged" }, seen))
    assert.equal(0, seen.ctx.fields_compared or 0)
    -- while two fields of one response name are one pair, their subfields another
    errors_of("{ dog { name } dog { name } }", { "OverlappingFieldsCanBeMerged" }, seen)
    assert.equal(2, seen.ctx.fields_compared)
  end)

  it("OverlappingFieldsCanBeMerged: a quadratic document stops at graphql-js's budget",
    function()
      -- 500 copies of a field are 124,750 pairs, within the budget; 1,000 are 499,500
      valid("OverlappingFieldsCanBeMerged", "{ dog { " .. string.rep("name ", 500) .. "} }")
      check("OverlappingFieldsCanBeMerged", "{ dog { " .. string.rep("name ", 1000) .. "} }",
        { { "Validation aborted.", {} } })
    end)

  it("OverlappingFieldsCanBeMerged: cuts a conflict's text at 1,000 characters and its "
    .. "locations at 20 a side, as graphql-js", function()
    local tail = " Use different aliases on the fields to fetch both if this was intentional."
    local long = string.rep("f", 2000)
    local q = ("{ dog { %s: name %s: nickname } }"):format(long, long)
    check("OverlappingFieldsCanBeMerged", q, {
      { 'Fields "' .. string.rep("f", 1000) .. '..." conflict because "name" and "nickname" '
        .. "are different fields." .. tail, { { 1, 9 }, { 1, 2016 } } },
    })
    local names, nicks, parts = {}, {}, {}
    for i = 0, 29 do
      names[#names + 1] = ("x%d: name"):format(i)
      nicks[#nicks + 1] = ("x%d: nickname"):format(i)
      parts[#parts + 1] = ('subfields "x%d" conflict because "name" and "nickname" are '
        .. "different fields"):format(i)
    end
    q = ("{ dog { a: owner { %s } a: owner { %s } } }"):format(table.concat(names, " "),
      table.concat(nicks, " "))
    local errs = errors_of(q, { "OverlappingFieldsCanBeMerged" })
    assert.equal(1, #errs)
    assert.equal('Fields "a" conflict because '
      .. table.concat(parts, " and "):sub(1, 1000) .. "...." .. tail, errs[1][1])
    -- each side: the field, then the last of the conflicts until 20
    assert.equal(40, #errs[1][2])
    assert.same(at(q, "a: owner"), errs[1][2][1])
    assert.same(at(q, "x0: name"), errs[1][2][2])
    assert.same(at(q, "x18: name"), errs[1][2][20])
    assert.same(at(q, "a: owner", 2), errs[1][2][21])
  end)

  it("MaxIntrospectionDepth: introspection nests type lists at most twice", function()
    valid("MaxIntrospectionDepth", "{ __schema { types { fields { type { ofType { name } } } } } }")
    local q = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    check("MaxIntrospectionDepth", q, { { "Maximum introspection depth exceeded", { { 1, 3 } } } })
    -- through fragments, each remembered for the depth it was entered at
    q = "{ a: __type(name: \"Dog\") { ...A } b: __type(name: \"Cat\") { ...A } }\n"
      .. "fragment A on __Type { fields { type { ...B } } }\n"
      .. "fragment B on __Type { possibleTypes { interfaces { name } } }"
    check("MaxIntrospectionDepth", q, {
      { "Maximum introspection depth exceeded", { { 1, 3 } } },
      { "Maximum introspection depth exceeded", { at(q, "b:") } },
    })
  end)

  it("UniqueInputFieldNames: an input field once per object (5.6.3)", function()
    valid("UniqueInputFieldNames", "{ findDog(complex: { name: \"Fido\", owner: \"a\" }) "
      .. "{ name } }")
    local q = "{ findDog(complex: { name: \"Fido\", name: \"Fido\" }) { name } }"
    check("UniqueInputFieldNames", q, {
      { 'There can be only one input field named "name".', { at(q, "name:"), at(q, "name:", 2) } },
    })
  end)

  it("passes the specification's valid examples under every rule", function()
    assert.same({}, errors_of([[
query getDogName($atOtherHomes: Boolean, $cmd: DogCommand! = SIT) {
  dog {
    name
    ...dogFields
    ... on Pet { name }
    isHouseTrained(atOtherHomes: $atOtherHomes) @include(if: true)
    doesKnowCommand(dogCommand: $cmd)
  }
  catOrDog { __typename ... on Cat { meowVolume } ... on Dog { volume: barkVolume } }
  findDog(complex: { name: "Fido" }) { owner { pets { name } } }
}
fragment dogFields on Dog { barkVolume owner { name } }
subscription sub { newMessage { body sender } }
]]))
  end)

  it("keeps graphql-js's order across rules, later fragments' variables included", function()
    local q = "query Q { dog { ...F } }\n{ dog { unknownField } }\n"
      .. "fragment F on Dog { isHouseTrained(atOtherHomes: $x) }"
    assert.same({
      { 'Variable "$x" is not defined by operation "Q".', { at(q, "$x"), { 1, 1 } } },
      { "This anonymous operation must be the only defined operation.", { { 2, 1 } } },
      { 'Cannot query field "unknownField" on type "Dog".', { at(q, "unknownField") } },
    }, errors_of(q))
  end)

  it("stops following fragments past graphql-js's budget: \"Validation aborted.\"", function()
    -- n operations, each using a chain of fragments n long: about 4 n^2 / 2 steps, within the
    -- budget (50,000) for 100, past it for 200
    local function chains(n)
      local parts = {}
      for i = 1, n do
        parts[#parts + 1] = ("query Q%d($v: Boolean) { dog { ...F%d } }"):format(i, i)
      end
      for i = 1, n do
        parts[#parts + 1] = ("fragment F%d on Dog { isHouseTrained(atOtherHomes: $v) %s}")
          :format(i, i < n and ("...F%d "):format(i + 1) or "")
      end
      return table.concat(parts, "\n")
    end
    valid("NoUnusedVariables", chains(100))
    check("NoUnusedVariables", chains(200), { { "Validation aborted.", {} } })
  end)

  it("stops at 100 errors with graphql-js's message", function()
    local parts = { "{" }
    for i = 1, 150 do
      parts[#parts + 1] = "f" .. i
    end
    parts[#parts + 1] = "}"
    local errs = errors_of(table.concat(parts, " "))
    assert.equal(101, #errs)
    assert.equal('Cannot query field "f100" on type "Query".', errs[100][1])
    assert.same({ "Too many validation errors, error limit reached. Validation aborted.", {} },
      errs[101])
  end)
end)
