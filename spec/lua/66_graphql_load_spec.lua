-- speezy.graphql.load.build: resolver maps bound onto a schema built from SDL, the refusals
-- of what the schema cannot serve with (their file:line), and @auth's role checks. The reload
-- side (files, refused generations) is spec/api/58_graphql_reload_spec.lua.
local load = require "speezy.graphql.load"

local SDL = [[
directive @auth(roles: [Role!]) on FIELD_DEFINITION | OBJECT
enum Role { CUSTOMER STORE_OWNER ADMIN }
interface Node { id: ID! secret: String @auth(roles: [ADMIN]) }
type User implements Node { id: ID! phone: String @auth(roles: [ADMIN]) role: Role secret: String }
type Staff @auth(roles: [ADMIN, STORE_OWNER]) { id: ID! note: String @auth }
union Who = User | Staff
type Query { me: User @auth node(id: ID!): Node who: Who staff: Staff open: String }
]]

local function resolvers()
  return {
    Query = {
      me = function(_, _, ctx) return { id = ctx.user.id, phone = "+911", role = "CUSTOMER" } end,
      node = function(_, args) return { id = args.id } end,
      who = function() return { id = "1" } end,
      staff = function() return { id = "2", note = "hi" } end,
      open = function() return "open" end,
    },
    Node = { __resolveType = function() return "User" end },
    Who = { __resolveType = function() return "User" end },
  }
end

local function build(map, file)
  return load.build({ { file = "s.graphql", text = SDL } },
    { { file = file or "r.lua", map = map } }, { introspection = true })
end

-- The error a resolver raised (speezy.app's HttpError), or nil and the value.
local function call(schema, type_name, field, parent, ctx)
  local f = schema.types[type_name].fields[field]
  local ok, v = pcall(f.resolve, parent, {}, ctx, { field_name = field })
  if ok then return nil, v end
  return v
end

describe("graphql load: binding resolver maps", function()
  it("binds field resolvers, __resolveType, __isTypeOf and scalar coercions", function()
    local map = resolvers()
    map.User = { __isTypeOf = function() return true end }
    local schema = assert(build(map))
    assert.equal(map.Query.open, schema.query.fields.open.resolve)
    assert.equal(map.Node.__resolveType, schema.types.Node.resolve_type)
    assert.equal(map.User.__isTypeOf, schema.types.User.is_type_of)
    assert.is_nil(schema.types.User.fields.role.resolve, "an object field keeps the default")
    assert.is_table(schema.meta.__schema)
    local dt = { serialize = function(v) return v end, parse_value = function(v) return v end,
      parse_literal = function(n) return n.value end }
    schema = assert(load.build({ { file = "s.graphql", text = "scalar DateTime\n" ..
      "type Query { at: DateTime }" } }, { { file = "r.lua", map = {
      Query = { at = function() end }, DateTime = dt } } }))
    assert.equal(dt.parse_literal, schema.types.DateTime.parse_literal)
  end)

  it("gives an interface field's resolver to the implementations without their own", function()
    local map = resolvers()
    local id = function() return "from Node" end
    map.Node.id = id
    local schema = assert(build(map))
    assert.equal(id, schema.types.User.fields.id.resolve)
  end)

  it("refuses entries for what the schema lacks, at the entry's file:line", function()
    local map = resolvers()
    map.Query.nope = function() end
    map.Nowhere = { x = function() end }
    map.Role = { CUSTOMER = function() end }
    map.Query.open = "open"
    map.String = { serialize = function(v) return v end }
    local schema, errors = build(map, "r.lua")
    assert.is_nil(schema)
    -- where each entry was written: the line its function starts on
    local function at(fn, message)
      local info = debug.getinfo(fn, "S")
      return { file = info.source:sub(2), line = info.linedefined, message = message }
    end
    assert.same({
      at(map.Nowhere.x, "resolver map: the schema has no type Nowhere"),
      at(map.Query.nope, "resolver map: Query has no field nope in the schema"),
      -- not a function: the place of the type's first function
      at(map.Query.me, "resolver map: Query.open must be a function, got string"),
      at(map.Role.CUSTOMER, "resolver map: Role.CUSTOMER: Role is an enum and takes no resolvers"),
      at(map.String.serialize, "resolver map: String is built in, its coercions are the " ..
        "specification's"),
      -- and Query.open, refused, has no resolver
      { file = "s.graphql", line = 7, column = 71, message = "Query.open has no resolver: " ..
        "a root field needs one in a resolver map (Query = { open = function(parent, args, " ..
        "ctx, info) ... end })" },
    }, errors)
  end)

  it("refuses root fields without resolvers and abstract types nobody resolves", function()
    local map = resolvers()
    map.Query.open = nil
    map.Who = nil
    local _, errors = build(map)
    assert.same({
      { file = "s.graphql", line = 7, column = 71, message = "Query.open has no resolver: " ..
        "a root field needs one in a resolver map (Query = { open = function(parent, args, " ..
        "ctx, info) ... end })" },
      { file = "s.graphql", line = 6, column = 1, message = "Who (union) needs __resolveType " ..
        "in a resolver map, or __isTypeOf on each of its object types (missing on User, Staff)" },
    }, errors)
  end)
end)

describe("graphql load: @auth", function()
  local schema
  before_each(function()
    schema = assert(build(resolvers()))
  end)

  it("refuses a field without a signed-in user: UNAUTHENTICATED", function()
    local e = call(schema, "Query", "me", nil, {})
    assert.equal("UNAUTHENTICATED", e.code)
    assert.equal("Authentication required", e.message)
    assert.equal("UNAUTHENTICATED", call(schema, "User", "phone", { phone = "+911" }, {}).code)
  end)

  it("lets any signed-in user through @auth without roles", function()
    local e, v = call(schema, "Query", "me", nil, { user = { id = "u1", role = "CUSTOMER" } })
    assert.is_nil(e)
    assert.equal("u1", v.id)
  end)

  it("refuses another role: FORBIDDEN; lets a listed role through", function()
    local e = call(schema, "User", "phone", { phone = "+911" }, { user = { role = "CUSTOMER" } })
    assert.equal("FORBIDDEN", e.code)
    assert.equal("User.phone is for ADMIN", e.message)
    local _, v = call(schema, "User", "phone", { phone = "+911" }, { user = { role = "ADMIN" } })
    assert.equal("+911", v)
  end)

  it("applies an object's @auth to its fields, a field's own @auth winning", function()
    local staff = { id = "2", note = "hi" }
    assert.equal("FORBIDDEN", call(schema, "Staff", "id", staff, { user = { role = "CUSTOMER" } })
      .code)
    local _, v = call(schema, "Staff", "id", staff, { user = { role = "STORE_OWNER" } })
    assert.equal("2", v)
    _, v = call(schema, "Staff", "note", staff, { user = { role = "CUSTOMER" } })
    assert.equal("hi", v)
    assert.equal("UNAUTHENTICATED", call(schema, "Staff", "note", staff, {}).code)
  end)

  it("guards an object's field with the @auth of the interface field it implements", function()
    local user = { secret = "s" }
    assert.equal("UNAUTHENTICATED", call(schema, "User", "secret", user, {}).code)
    local e = call(schema, "User", "secret", user, { user = { role = "CUSTOMER" } })
    assert.equal("FORBIDDEN", e.code)
    assert.equal("User.secret is for ADMIN", e.message)
    local _, v = call(schema, "User", "secret", user, { user = { role = "ADMIN" } })
    assert.equal("s", v)
  end)

  it("leaves fields without @auth alone", function()
    local e, v = call(schema, "Query", "open", nil, {})
    assert.is_nil(e)
    assert.equal("open", v)
    assert.is_nil(schema.types.User.fields.role.resolve)
  end)
end)
