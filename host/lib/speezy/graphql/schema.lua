-- speezy.graphql.schema: builds a schema from SDL texts (scripts/graphql/*.graphql) into the
-- tables the validator, the executor and introspection walk (their shape is described in
-- README.md, "GraphQL engine"). Building resolves every type reference, merges extensions
-- into the types they extend, and applies @deprecated and @specifiedBy; what a valid schema
-- must satisfy beyond that (interfaces implemented correctly, unique names, ...) is
-- speezy.graphql.check's. Every error names the file, line and column of its node.
local core = require "speezy.graphql.core"
local scalars = require "speezy.graphql.scalars"
local types = require "speezy.graphql.types"
local util = require "speezy.graphql.util"

local M = {}

-- SDL files are ours, not a client's: larger limits than a request's document gets.
local SDL_MAX_DEPTH, SDL_MAX_TOKENS = 256, 1000000

-- The specification's built-in directives (section 3.13), written as SDL so they are built
-- (and introspected) like a schema's own. graphql-js's descriptions, word for word.
-- luacheck: push ignore 631
local PRELUDE = [[
"Directs the executor to include this field or fragment only when the `if` argument is true."
directive @include("Included when true." if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT

"Directs the executor to skip this field or fragment when the `if` argument is true."
directive @skip("Skipped when true." if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT

"Marks an element of a GraphQL schema as no longer supported."
directive @deprecated(
  """
  Explains why this element was deprecated, usually also including a suggestion for how to access supported similar data. Formatted using the Markdown syntax, as specified by [CommonMark](https://commonmark.org/).
  """
  reason: String = "No longer supported"
) on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE

"Exposes a URL that specifies the behavior of this scalar."
directive @specifiedBy("The URL that specifies the behavior of this scalar." url: String!) on SCALAR
]]
-- luacheck: pop

local KIND, EXTENDS, KIND_WORD = util.DEFINES, util.EXTENDS, util.KIND_WORD

local function fail(b, file, node, message)
  b.errors[#b.errors + 1] = { message = message, file = file, line = node.line,
                              column = node.column }
end

local function text(desc)
  return desc and desc.value or nil
end

-- The directive applied to a node under that name, if any.
local function applied(node, name)
  for _, d in ipairs(node.directives or {}) do
    if d.name == name then return d end
  end
end

local function argument(directive, name)
  for _, a in ipairs(directive.arguments or {}) do
    if a.name == name then return a.value end
  end
end

local function deprecation(node)
  local d = applied(node, "deprecated")
  if not d then return nil end
  local reason = argument(d, "reason")
  if reason and reason.kind == "StringValue" then return reason.value end
  return "No longer supported"
end

-- The reference a type node names; a built-in scalar joins the schema when first named.
local function ref(b, file, node)
  if node.kind ~= "NamedType" then
    local inner = ref(b, file, node.type)
    if not inner then return nil end
    return node.kind == "ListType" and types.list(inner) or types.non_null(inner)
  end
  local t = b.types[node.name]
  if not t and scalars.builtin[node.name] then
    t = scalars.new(node.name)
    b.types[node.name] = t
    b.type_list[#b.type_list + 1] = t
  end
  if not t then fail(b, file, node, 'Unknown type "' .. node.name .. '".') end
  return t
end

local function input_values(b, file, nodes, map, list)
  for _, n in ipairs(nodes or {}) do
    local t = ref(b, file, n.type)
    if t and not map[n.name] then
      local a = { name = n.name, description = text(n.description), type = t,
                  default_value = n.defaultValue, deprecation_reason = deprecation(n),
                  directives = n.directives, file = file, line = n.line, column = n.column }
      map[n.name] = a
      list[#list + 1] = a
    end
  end
end

local function fields(b, file, t, nodes)
  for _, n in ipairs(nodes or {}) do
    local ft = ref(b, file, n.type)
    if ft and not t.fields[n.name] then
      local f = { name = n.name, description = text(n.description), type = ft, args = {},
                  arg_list = {}, deprecation_reason = deprecation(n), directives = n.directives,
                  file = file, line = n.line, column = n.column }
      input_values(b, file, n.arguments, f.args, f.arg_list)
      t.fields[n.name] = f
      t.field_list[#t.field_list + 1] = f
    end
  end
end

local function named_list(b, file, nodes, list)
  for _, n in ipairs(nodes or {}) do
    local t = ref(b, file, n)
    if t then list[#list + 1] = t end
  end
end

local function append_directives(t, node)
  if not node.directives then return end
  t.directives = t.directives or {}
  for _, d in ipairs(node.directives) do t.directives[#t.directives + 1] = d end
end

-- Adds what one definition or extension node says to its type.
local function fill(b, file, t, node)
  t.asts[#t.asts + 1] = { node = node, file = file }
  append_directives(t, node)
  local k = t.kind
  if k == "OBJECT" or k == "INTERFACE" then
    fields(b, file, t, node.fields)
    named_list(b, file, node.interfaces, t.interfaces)
  elseif k == "UNION" then
    named_list(b, file, node.types, t.types)
  elseif k == "ENUM" then
    for _, n in ipairs(node.values or {}) do
      if not t.values[n.name] then
        local v = { name = n.name, description = text(n.description),
                    deprecation_reason = deprecation(n), directives = n.directives,
                    file = file, line = n.line, column = n.column }
        t.values[n.name] = v
        t.value_list[#t.value_list + 1] = v
      end
    end
  elseif k == "INPUT_OBJECT" then
    input_values(b, file, node.fields, t.input_fields, t.input_field_list)
  elseif k == "SCALAR" then
    local d = applied(node, "specifiedBy")
    local url = d and argument(d, "url")
    if url and url.kind == "StringValue" then t.specified_by = url.value end
  end
end

local function new_type(kind, node, file)
  local t = { kind = kind, name = node.name, description = text(node.description),
              file = file, line = node.line, column = node.column, asts = {} }
  if kind == "OBJECT" or kind == "INTERFACE" then
    t.fields, t.field_list, t.interfaces = {}, {}, {}
  end
  if kind == "INTERFACE" or kind == "UNION" then t.possible_types, t.possible = {}, {} end
  if kind == "UNION" then t.types = {} end
  if kind == "ENUM" then t.values, t.value_list = {}, {} end
  if kind == "INPUT_OBJECT" then t.input_fields, t.input_field_list = {}, {} end
  return t
end

local function declare_directive(b, file, n, builtin)
  local existing = b.directives[n.name]
  if existing then
    fail(b, file, n, existing.builtin
      and 'Directive "@' .. n.name .. '" already exists in the schema. It cannot be redefined.'
      or 'There can be only one directive named "@' .. n.name .. '".')
    return
  end
  local d = { name = n.name, description = text(n.description), locations = {},
              location_list = n.locations or {}, args = {}, arg_list = {},
              repeatable = n.repeatable == true, builtin = builtin, file = file,
              line = n.line, column = n.column, ast = n }
  for _, l in ipairs(d.location_list) do d.locations[l] = true end
  b.directives[n.name] = d
  b.directive_list[#b.directive_list + 1] = d
  b.pending_args[#b.pending_args + 1] = { d = d, node = n, file = file }
end

-- First pass: every named type and directive exists before any reference is resolved.
local function declare(b, doc, file, builtin)
  for _, n in ipairs(doc.definitions or {}) do
    local k = n.kind
    if KIND[k] then
      if b.types[n.name] then
        fail(b, file, n, 'There can be only one type named "' .. n.name .. '".')
      elseif not (k == "ScalarTypeDefinition" and scalars.builtin[n.name]) then
        local t = new_type(KIND[k], n, file)
        b.types[n.name] = t
        b.type_list[#b.type_list + 1] = t
        b.fills[#b.fills + 1] = { t = t, node = n, file = file }
      end
    elseif EXTENDS[k] then
      b.extensions[#b.extensions + 1] = { node = n, file = file }
    elseif k == "DirectiveDefinition" then
      declare_directive(b, file, n, builtin)
    elseif k == "SchemaDefinition" or k == "SchemaExtension" then
      b.schema_asts[#b.schema_asts + 1] = { node = n, file = file }
    else
      fail(b, file, n, "A schema file holds type system definitions only; found an "
        .. (k == "FragmentDefinition" and "fragment" or "operation") .. ".")
    end
  end
end

local function extend(b, e)
  local n, file = e.node, e.file
  local t = b.types[n.name] or scalars.builtin[n.name] and ref(b, file, { kind = "NamedType",
    name = n.name, line = n.line, column = n.column })
  if not t then
    fail(b, file, n, 'Cannot extend type "' .. n.name .. '" because it is not defined.')
  elseif t.kind ~= EXTENDS[n.kind] then
    fail(b, file, n, "Cannot extend non-" .. KIND_WORD[EXTENDS[n.kind]] .. ' type "' .. n.name
      .. '".')
  else
    fill(b, file, t, n)
  end
end

local function roots(b, schema)
  local explicit = false
  for _, s in ipairs(b.schema_asts) do
    if s.node.kind == "SchemaDefinition" then
      explicit = true
      schema.description = text(s.node.description)
    end
    append_directives(schema, s.node)
    for _, o in ipairs(s.node.operationTypes or {}) do
      schema[o.operation] = ref(b, s.file, o.type)
    end
  end
  if not explicit then
    schema.query = schema.query or b.types.Query
    schema.mutation = schema.mutation or b.types.Mutation
    schema.subscription = schema.subscription or b.types.Subscription
  end
end

local function link_possible_types(list)
  for _, t in ipairs(list) do
    if t.kind == "OBJECT" then
      for _, i in ipairs(t.interfaces) do
        if i.kind == "INTERFACE" and not i.possible[t.name] then
          i.possible[t.name] = true
          i.possible_types[#i.possible_types + 1] = t
        end
      end
    elseif t.kind == "UNION" then
      for _, m in ipairs(t.types) do
        if not t.possible[m.name] then
          t.possible[m.name] = true
          t.possible_types[#t.possible_types + 1] = m
        end
      end
    end
  end
end

local function parse(b, src)
  local doc, err = core.parse(src.text, SDL_MAX_DEPTH, SDL_MAX_TOKENS)
  if not doc then fail(b, src.file, err, err.message) end
  return doc
end

-- sources: { { file = "scripts/graphql/x.graphql", text = "..." }, ... } in load order.
-- Returns the schema, or nil and the errors { { message, file, line, column }, ... }.
function M.build(sources)
  local b = { errors = {}, types = {}, type_list = {}, directives = {}, directive_list = {},
              fills = {}, extensions = {}, schema_asts = {}, pending_args = {} }
  declare(b, assert(core.parse(PRELUDE)), "(built-in)", true)
  local docs = {}
  for i, src in ipairs(sources) do
    docs[i] = parse(b, src)
    if docs[i] then declare(b, docs[i], src.file, false) end
  end
  for _, f in ipairs(b.fills) do fill(b, f.file, f.t, f.node) end
  for _, e in ipairs(b.extensions) do extend(b, e) end
  for _, p in ipairs(b.pending_args) do
    input_values(b, p.file, p.node.arguments, p.d.args, p.d.arg_list)
  end
  -- String and Boolean are always there: built-in directives and introspection use them.
  ref(b, "(built-in)", { kind = "NamedType", name = "String" })
  ref(b, "(built-in)", { kind = "NamedType", name = "Boolean" })
  local schema = { types = b.types, type_list = b.type_list, directives = b.directives,
                   directive_list = b.directive_list, asts = b.schema_asts }
  roots(b, schema)
  link_possible_types(b.type_list)
  if #b.errors == 0 then -- what a built schema must also satisfy (speezy.graphql.check)
    local documents = {}
    for i, src in ipairs(sources) do documents[i] = { file = src.file, document = docs[i] } end
    b.errors = require("speezy.graphql.check").check(schema, documents)
  end
  if #b.errors > 0 then return nil, b.errors end
  return schema
end

return M
