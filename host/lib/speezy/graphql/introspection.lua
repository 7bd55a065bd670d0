-- speezy.graphql.introspection — the types a client reads a schema through (section 4 of the
-- October 2021 specification, with graphql-js 16's deprecation of arguments and input fields,
-- which its getIntrospectionQuery{ inputValueDeprecation = true } asks for).
--
--   introspection.add(schema[, { enabled = bool }])
--     adds __Schema, __Type, __Field, __InputValue, __EnumValue, __Directive, __TypeKind and
--     __DirectiveLocation to schema.types / schema.type_list, and the meta fields to
--     schema.meta = { __schema = F, __type = F, __typename = F }: the executor answers
--     __typename on any object, and looks __schema and __type up there when the parent is the
--     query root (they are not fields of the query type, so printing the schema leaves them
--     out, as graphql-js does).
--   enabled (default: the setting GRAPHQL_INTROSPECTION, on unless SPEEZY_ENV=production): off,
--     __schema and __type raise INTROSPECTION_DISABLED; __typename keeps working, clients
--     need it to tell the members of a union apart.
--
-- The resolvers read the schema's own tables (T, F, A, V, D of the contract in
-- /work/notes/gql-contract.md): a wrapped type is { kind = "LIST" | "NON_NULL", of_type = R }.
local M = {}

local KINDS = { "SCALAR", "OBJECT", "INTERFACE", "UNION", "ENUM", "INPUT_OBJECT", "LIST",
  "NON_NULL" }

local LOCATIONS = { "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION",
  "FRAGMENT_SPREAD", "INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT",
  "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE", "UNION", "ENUM", "ENUM_VALUE",
  "INPUT_OBJECT", "INPUT_FIELD_DEFINITION" }

local function list(of) return { kind = "LIST", of_type = of } end
local function non_null(of) return { kind = "NON_NULL", of_type = of } end

-- The setting, read where its default lives: config.c puts the effective value (its own
-- default when unset) into the environment every worker inherits.
local function setting_enabled()
  return require("speezy.core").setting("GRAPHQL_INTROSPECTION") ~= "0"
end

local function disabled()
  local app = require "speezy.app"
  app.raise(400, "INTROSPECTION_DISABLED",
    "GraphQL introspection is disabled on this server (GRAPHQL_INTROSPECTION=0), but the " ..
    "query contained __schema or __type")
end

-- Items of a list that are not deprecated, unless the caller asked for those too.
local function live(items, args)
  if not items then return {} end
  if args and args.includeDeprecated then return items end
  local out = {}
  for _, item in ipairs(items) do
    if item.deprecation_reason == nil then out[#out + 1] = item end
  end
  return out
end

local function is_wrapper(r) return r.kind == "LIST" or r.kind == "NON_NULL" end

-- One of the meta types: T with its fields in order; each field { name, type, resolve, args }.
local function object(name, description, defs)
  -- builtin: the type checks (speezy.graphql.check) and printing leave the meta types alone
  local t = { kind = "OBJECT", name = name, description = description, fields = {},
    field_list = {}, interfaces = {}, builtin = true }
  for _, d in ipairs(defs) do
    -- sync: the resolvers read the schema's tables and never yield, so the executor runs
    -- them inline rather than one thread each
    local f = { name = d[1], type = d[2], resolve = d[3], description = d[4], args = {},
      arg_list = {}, sync = true }
    for _, a in ipairs(d.args or {}) do
      f.args[a.name] = a
      f.arg_list[#f.arg_list + 1] = a
    end
    t.fields[f.name] = f
    t.field_list[#t.field_list + 1] = f
  end
  return t
end

local function enum(name, description, names)
  local t = { kind = "ENUM", name = name, description = description, values = {},
    value_list = {}, builtin = true }
  for _, n in ipairs(names) do
    local v = { name = n }
    t.values[n] = v
    t.value_list[#t.value_list + 1] = v
  end
  return t
end

local function read(key)
  return function(parent) return parent[key] end
end

local function deprecated(parent) return parent.deprecation_reason ~= nil end

-- The meta types for a schema whose built-in String and Boolean they refer to.
local function meta_types(schema)
  local String, Boolean = assert(schema.types.String, "the schema has no String"),
    assert(schema.types.Boolean, "the schema has no Boolean")
  local include_deprecated = { name = "includeDeprecated", type = Boolean,
    default_value = { kind = "BooleanValue", value = false } }
  local TypeKind = enum("__TypeKind", "What kind of type a __Type is.", KINDS)
  local DirectiveLocation = enum("__DirectiveLocation",
    "Where in a document or a schema a directive may be used.", LOCATIONS)
  local Type, Field, InputValue, EnumValue, Directive, Schema -- each refers to the others
  Type = object("__Type", "A type of the schema, or a list or non-null wrapper around one: " ..
    "what it is depends on kind.", {})
  Field = object("__Field", "A field of an object or interface type, with its arguments.", {})
  InputValue = object("__InputValue", "An argument or an input object's field.", {})
  EnumValue = object("__EnumValue", "One value of an enum type.", {})
  Directive = object("__Directive", "A directive the schema knows: where it may be used " ..
    "and what arguments it takes.", {})
  Schema = object("__Schema", "The schema: its types, root operation types and directives.", {})

  local function fill(t, defs)
    local full = object(t.name, t.description, defs)
    t.fields, t.field_list = full.fields, full.field_list
  end
  local function types_of(list_of) return non_null(list(non_null(list_of))) end

  fill(Schema, {
    { "description", String, read("description") },
    { "types", types_of(Type), function(s) return s.type_list end,
      "Every named type of the schema." },
    { "queryType", non_null(Type), read("query") },
    { "mutationType", Type, read("mutation") },
    { "subscriptionType", Type, read("subscription") },
    { "directives", types_of(Directive), function(s) return s.directive_list end },
  })
  local function when(kinds, fn)
    return function(t, args)
      if kinds[t.kind] then return fn(t, args) end
      return nil
    end
  end
  local OBJ = { OBJECT = true, INTERFACE = true }
  fill(Type, {
    { "kind", non_null(TypeKind), read("kind") },
    { "name", String, function(t) return not is_wrapper(t) and t.name or nil end },
    { "description", String, function(t) return not is_wrapper(t) and t.description or nil end },
    { "specifiedByURL", String, when({ SCALAR = true }, function(t) return t.specified_by end) },
    { "fields", list(non_null(Field)), when(OBJ, function(t, args)
        return live(t.field_list, args)
      end), args = { include_deprecated } },
    { "interfaces", list(non_null(Type)), when(OBJ, function(t) return t.interfaces or {} end) },
    { "possibleTypes", list(non_null(Type)), when({ INTERFACE = true, UNION = true },
      function(t) return t.possible_types or {} end) },
    { "enumValues", list(non_null(EnumValue)), when({ ENUM = true }, function(t, args)
        return live(t.value_list, args)
      end), args = { include_deprecated } },
    { "inputFields", list(non_null(InputValue)), when({ INPUT_OBJECT = true }, function(t, args)
        return live(t.input_field_list, args)
      end), args = { include_deprecated } },
    { "ofType", Type, function(t) return is_wrapper(t) and t.of_type or nil end },
  })
  fill(Field, {
    { "name", non_null(String), read("name") },
    { "description", String, read("description") },
    { "args", types_of(InputValue), function(f, args) return live(f.arg_list, args) end,
      args = { include_deprecated } },
    { "type", non_null(Type), read("type") },
    { "isDeprecated", non_null(Boolean), deprecated },
    { "deprecationReason", String, read("deprecation_reason") },
  })
  fill(InputValue, {
    { "name", non_null(String), read("name") },
    { "description", String, read("description") },
    { "type", non_null(Type), read("type") },
    { "defaultValue", String, function(a)
        if a.default_value == nil then return nil end
        return require("speezy.graphql.types").print_value(a.default_value)
      end, "The default value as GraphQL source text." },
    { "isDeprecated", non_null(Boolean), deprecated },
    { "deprecationReason", String, read("deprecation_reason") },
  })
  fill(EnumValue, {
    { "name", non_null(String), read("name") },
    { "description", String, read("description") },
    { "isDeprecated", non_null(Boolean), deprecated },
    { "deprecationReason", String, read("deprecation_reason") },
  })
  fill(Directive, {
    { "name", non_null(String), read("name") },
    { "description", String, read("description") },
    { "isRepeatable", non_null(Boolean), function(d) return d.repeatable == true end },
    { "locations", types_of(DirectiveLocation), function(d) return d.location_list or {} end },
    { "args", types_of(InputValue), function(d, args) return live(d.arg_list, args) end,
      args = { include_deprecated } },
  })
  return { Schema, Type, TypeKind, Field, InputValue, EnumValue, Directive, DirectiveLocation }
end

-- Adds the meta types and fields to schema (once); returns schema.
function M.add(schema, opts)
  if schema.meta then return schema end
  local enabled = opts and opts.enabled
  if enabled == nil then enabled = setting_enabled() end
  local added = meta_types(schema)
  for _, t in ipairs(added) do
    schema.types[t.name] = t
    schema.type_list[#schema.type_list + 1] = t
  end
  local Schema, Type, String = added[1], added[2], schema.types.String
  local function gate(fn)
    if enabled then return fn end
    return disabled
  end
  schema.meta = {
    __schema = { name = "__schema", type = non_null(Schema), args = {}, arg_list = {},
      description = "Access the current type schema of this server.",
      resolve = gate(function(_, _, _, info) return info.schema end), sync = true },
    __type = { name = "__type", type = Type, args = {}, arg_list = {},
      description = "Request the type information of a single type.",
      resolve = gate(function(_, args, _, info) return info.schema.types[args.name] end),
      sync = true },
    __typename = { name = "__typename", type = non_null(String), args = {}, arg_list = {},
      description = "The name of the current Object type at runtime.",
      resolve = function(_, _, _, info) return info.parent_type.name end, sync = true },
  }
  local name_arg = { name = "name", type = non_null(String) }
  schema.meta.__type.args.name = name_arg
  schema.meta.__type.arg_list[1] = name_arg
  schema.introspection = enabled
  return schema
end

return M
