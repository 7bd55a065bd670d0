-- speezy.graphql.check — is a schema one the specification allows?
--
--   check.check(schema[, documents]) -> errors   (the two below, SDL rules first)
--   check.sdl(documents) -> errors
--     documents = { { file = "graphql/schema.graphql", document = AST }, ... }: graphql-js 16's
--     SDL rules over all the files together (LoneSchemaDefinition, UniqueOperationTypes,
--     UniqueTypeNames, UniqueEnumValueNames, UniqueFieldDefinitionNames,
--     UniqueArgumentDefinitionNames, UniqueDirectiveNames, PossibleTypeExtensions,
--     KnownDirectives, UniqueDirectivesPerLocation): what the built schema no longer shows, as
--     the builder keeps one definition per name.
--   check.types(schema) -> errors
--     the specification's type validation (3.3 root types, 3.6 objects, 3.7 interfaces, 3.8
--     unions, 3.9 enums, 3.10 input objects and their non-null cycles, 3.13 directives, and
--     no name starting with "__"), in graphql-js 16's order and words (validateSchema).
-- Every error is { message, file, line, column }, the place of the definition at fault.
local util = require "speezy.graphql.util"

local M = {}

local DEFINES, EXTENDS = util.DEFINES, util.EXTENDS

local function types_lib() return require "speezy.graphql.types" end

local function err(list, message, at, fallback)
  at = at or fallback or {}
  list[#list + 1] = { message = message, file = at.file or (fallback and fallback.file),
    line = at.line, column = at.column }
end

----------------------------------------------------------------------------------------------
-- SDL rules
----------------------------------------------------------------------------------------------

local BUILTIN_SCALARS = { Int = true, Float = true, String = true, Boolean = true, ID = true }

-- Where each built-in directive may stand, and whether it repeats.
local BUILTIN_DIRECTIVES = {
  include = { FIELD = true, FRAGMENT_SPREAD = true, INLINE_FRAGMENT = true },
  skip = { FIELD = true, FRAGMENT_SPREAD = true, INLINE_FRAGMENT = true },
  deprecated = { FIELD_DEFINITION = true, ARGUMENT_DEFINITION = true,
    INPUT_FIELD_DEFINITION = true, ENUM_VALUE = true },
  specifiedBy = { SCALAR = true },
}


local function at(file, node) return { file = file, line = node.line, column = node.column } end

function M.sdl(documents)
  local errors = {}
  local defined, names, directives = {}, {}, {} -- type name -> def node; directive name -> locs
  for name, locs in pairs(BUILTIN_DIRECTIVES) do directives[name] = { locations = locs } end
  -- first pass: what is defined where, with the uniqueness of definitions
  local schema_seen, op_seen = false, {}
  for _, d in ipairs(documents) do
    for _, def in ipairs(d.document.definitions or {}) do
      local kind = def.kind
      if kind == "SchemaDefinition" then
        if schema_seen then
          err(errors, "Must provide only one schema definition.", at(d.file, def))
        end
        schema_seen = true
      end
      if kind == "SchemaDefinition" or kind == "SchemaExtension" then
        for _, op in ipairs(def.operationTypes or {}) do
          if op_seen[op.operation] then
            err(errors, "There can be only one " .. op.operation .. " type in schema.",
              at(d.file, op))
          end
          op_seen[op.operation] = true
        end
      elseif DEFINES[kind] then
        if defined[def.name] then
          err(errors, 'There can be only one type named "' .. def.name .. '".', at(d.file, def))
        else
          defined[def.name] = def
          names[#names + 1] = def.name
        end
      elseif kind == "DirectiveDefinition" then
        if directives[def.name] and not BUILTIN_DIRECTIVES[def.name] then
          err(errors, 'There can be only one directive named "@' .. def.name .. '".',
            at(d.file, def))
        else
          local locs = {}
          for _, l in ipairs(def.locations or {}) do locs[l] = true end
          directives[def.name] = { locations = locs, repeatable = def.repeatable }
        end
      end
    end
  end
  -- second pass: extensions, members, arguments and directive uses
  local members = {} -- type name -> { kind = "field" | "value", seen = {} }
  local type_directives = {} -- type name -> directive names used on its definition/extensions
  local function unique_args(file, owner, args)
    local seen = {}
    for _, a in ipairs(args or {}) do
      if seen[a.name] then
        err(errors, 'Argument "' .. owner .. "(" .. a.name .. ':)" can only be defined once.',
          at(file, a))
      end
      seen[a.name] = true
    end
  end
  local function uses(file, node, location, seen)
    seen = seen or {}
    for _, dir in ipairs(node.directives or {}) do
      local known = directives[dir.name]
      if not known then
        err(errors, 'Unknown directive "@' .. dir.name .. '".', at(file, dir))
      else
        if not known.locations[location] then
          err(errors, 'Directive "@' .. dir.name .. '" may not be used on ' .. location .. ".",
            at(file, dir))
        end
        if not known.repeatable then
          if seen[dir.name] then
            err(errors, 'The directive "@' .. dir.name ..
              '" can only be used once at this location.', at(file, dir))
          end
          seen[dir.name] = true
        end
      end
    end
  end
  for _, d in ipairs(documents) do
    local file = d.file
    for _, def in ipairs(d.document.definitions or {}) do
      local kind = def.kind
      if EXTENDS[kind] then
        local base = defined[def.name]
        if base then
          if DEFINES[base.kind] ~= EXTENDS[kind] then
            err(errors, "Cannot extend non-" .. util.KIND_WORD[EXTENDS[kind]] .. ' type "'
              .. def.name .. '".', at(file, def))
          end
        elseif BUILTIN_SCALARS[def.name] then
          if kind ~= "ScalarTypeExtension" then
            err(errors, 'Cannot extend non-scalar type "' .. def.name .. '".', at(file, def))
          end
        else
          err(errors, 'Cannot extend type "' .. def.name .. '" because it is not defined.' ..
            util.did_you_mean(util.suggestions(def.name, names)), at(file, def))
        end
      end
      if kind == "DirectiveDefinition" then
        unique_args(file, "@" .. def.name, def.arguments)
        for _, a in ipairs(def.arguments or {}) do uses(file, a, "ARGUMENT_DEFINITION") end
      elseif util.LOCATION[kind] then
        local tname = def.name or "schema"
        if kind:match("^Schema") then tname = " schema" end -- never a type's name
        type_directives[tname] = type_directives[tname] or {}
        uses(file, def, util.LOCATION[kind], type_directives[tname])
        local is_input = kind:match("^InputObject") ~= nil
        local is_enum = kind:match("^Enum") ~= nil
        if def.fields or def.values then
          members[tname] = members[tname] or {}
          local seen = members[tname]
          for _, m in ipairs(def.fields or def.values) do
            local what = is_enum and "Enum value" or "Field"
            if seen[m.name] then
              err(errors, what .. ' "' .. tname .. "." .. m.name .. '" can only be defined once.',
                at(file, m))
            end
            seen[m.name] = true
            if is_enum then
              uses(file, m, "ENUM_VALUE")
            elseif is_input then
              uses(file, m, "INPUT_FIELD_DEFINITION")
            else
              uses(file, m, "FIELD_DEFINITION")
              unique_args(file, tname .. "." .. m.name, m.arguments)
              for _, a in ipairs(m.arguments or {}) do uses(file, a, "ARGUMENT_DEFINITION") end
            end
          end
        end
      end
    end
  end
  return errors
end

----------------------------------------------------------------------------------------------
-- Type validation
----------------------------------------------------------------------------------------------

local function check_name(errors, thing, fallback)
  if thing.name and thing.name:sub(1, 2) == "__" then
    err(errors, 'Name "' .. thing.name ..
      '" must not begin with "__", which is reserved by GraphQL introspection.', thing, fallback)
  end
end

local function is_required(a)
  return a.type.kind == "NON_NULL" and a.default_value == nil
end

local function check_roots(errors, schema, T)
  local q = schema.query
  if not q then
    err(errors, "Query root type must be provided.", schema)
  elseif q.kind ~= "OBJECT" then
    err(errors, "Query root type must be Object type, it cannot be " .. T.string(q) .. ".", q)
  end
  for _, op in ipairs({ "mutation", "subscription" }) do
    local t = schema[op]
    if t and t.kind ~= "OBJECT" then
      local Op = op:sub(1, 1):upper() .. op:sub(2)
      err(errors, Op .. " root type must be Object type if provided, it cannot be " ..
        T.string(t) .. ".", t)
    end
  end
end

local function check_directives(errors, schema, T)
  for _, d in ipairs(schema.directive_list or {}) do
    if not d.builtin then
      check_name(errors, d)
      if not next(d.locations or {}) then
        err(errors, "Directive @" .. d.name .. " must include 1 or more locations.", d)
      end
      for _, a in ipairs(d.arg_list or {}) do
        check_name(errors, a, d)
        if not T.is_input(a.type) then
          err(errors, "Argument @" .. d.name .. "(" .. a.name ..
            ":) must accept an input type but got: " .. T.string(a.type) .. ".", a, d)
        end
        if is_required(a) and a.deprecation_reason ~= nil then
          err(errors, "Required argument @" .. d.name .. "(" .. a.name ..
            ":) cannot be deprecated.", a, d)
        end
      end
    end
  end
end

local function check_fields(errors, t, T)
  if #(t.field_list or {}) == 0 then
    err(errors, "Type " .. t.name .. " must define one or more fields.", t)
  end
  for _, f in ipairs(t.field_list or {}) do
    check_name(errors, f, t)
    if not T.is_output(f.type) then
      err(errors, "The type of " .. t.name .. "." .. f.name .. " must be Output Type but got: " ..
        T.string(f.type) .. ".", f, t)
    end
    for _, a in ipairs(f.arg_list or {}) do
      check_name(errors, a, f)
      if not T.is_input(a.type) then
        err(errors, "The type of " .. t.name .. "." .. f.name .. "(" .. a.name ..
          ":) must be Input Type but got: " .. T.string(a.type) .. ".", a, f)
      end
      if is_required(a) and a.deprecation_reason ~= nil then
        err(errors, "Required argument " .. t.name .. "." .. f.name .. "(" .. a.name ..
          ":) cannot be deprecated.", a, f)
      end
    end
  end
end

-- What t owes iface: each of its fields, with a type at least as precise and the same
-- arguments, and no required argument iface's field lacks.
local function check_implements(errors, schema, t, iface, T)
  for _, ifield in ipairs(iface.field_list or {}) do
    local name = ifield.name
    local tfield = t.fields and t.fields[name]
    if not tfield then
      err(errors, "Interface field " .. iface.name .. "." .. name .. " expected but " .. t.name ..
        " does not provide it.", t)
    else
      if not T.is_subtype(schema, tfield.type, ifield.type) then
        err(errors, "Interface field " .. iface.name .. "." .. name .. " expects type " ..
          T.string(ifield.type) .. " but " .. t.name .. "." .. name .. " is type " ..
          T.string(tfield.type) .. ".", tfield, t)
      end
      for _, iarg in ipairs(ifield.arg_list or {}) do
        local targ = tfield.args and tfield.args[iarg.name]
        if not targ then
          err(errors, "Interface field argument " .. iface.name .. "." .. name .. "(" ..
            iarg.name .. ":) expected but " .. t.name .. "." .. name ..
            " does not provide it.", tfield, t)
        elseif not T.equal(iarg.type, targ.type) then
          err(errors, "Interface field argument " .. iface.name .. "." .. name .. "(" ..
            iarg.name .. ":) expects type " .. T.string(iarg.type) .. " but " .. t.name .. "." ..
            name .. "(" .. iarg.name .. ":) is type " .. T.string(targ.type) .. ".", targ, tfield)
        end
      end
      for _, targ in ipairs(tfield.arg_list or {}) do
        if is_required(targ) and not (ifield.args and ifield.args[targ.name]) then
          err(errors, "Object field " .. t.name .. "." .. name .. " includes required argument " ..
            targ.name .. " that is missing from the Interface field " .. iface.name .. "." ..
            name .. ".", targ, tfield)
        end
      end
    end
  end
end

local function check_interfaces(errors, schema, t, T)
  local seen = {}
  for _, iface in ipairs(t.interfaces or {}) do
    if iface.kind ~= "INTERFACE" then
      err(errors, "Type " .. t.name .. " must only implement Interface types, it cannot " ..
        "implement " .. T.string(iface) .. ".", t)
    elseif iface == t then
      err(errors, "Type " .. t.name ..
        " cannot implement itself because it would create a circular reference.", t)
    elseif seen[iface] then
      err(errors, "Type " .. t.name .. " can only implement " .. iface.name .. " once.", t)
    else
      seen[iface] = true
      local transitive_ok = true
      for _, transitive in ipairs(iface.interfaces or {}) do
        local listed = false
        for _, own in ipairs(t.interfaces) do
          if own == transitive then listed = true end
        end
        if not listed then
          transitive_ok = false
          if transitive == t then
            err(errors, "Type " .. t.name .. " cannot implement " .. iface.name ..
              " because it would create a circular reference.", t)
          else
            err(errors, "Type " .. t.name .. " must implement " .. transitive.name ..
              " because it is implemented by " .. iface.name .. ".", t)
          end
        end
      end
      if transitive_ok then check_implements(errors, schema, t, iface, T) end
    end
  end
end

local function check_union(errors, t, T)
  if #(t.types or {}) == 0 then
    err(errors, "Union type " .. t.name .. " must define one or more member types.", t)
  end
  local seen = {}
  for _, m in ipairs(t.types or {}) do
    if seen[m] then
      err(errors, "Union type " .. t.name .. " can only include type " .. m.name .. " once.", t)
    elseif m.kind ~= "OBJECT" then
      err(errors, "Union type " .. t.name .. " can only include Object types, it cannot " ..
        "include " .. T.string(m) .. ".", t)
    end
    seen[m] = true
  end
end

local function check_enum(errors, t)
  if #(t.value_list or {}) == 0 then
    err(errors, "Enum type " .. t.name .. " must define one or more values.", t)
  end
  for _, v in ipairs(t.value_list or {}) do
    check_name(errors, v, t)
    if v.name == "true" or v.name == "false" or v.name == "null" then
      err(errors, "Enum type " .. t.name .. " cannot include value: " .. v.name .. ".", v, t)
    end
  end
end

local function check_input(errors, t, T)
  if #(t.input_field_list or {}) == 0 then
    err(errors, "Input Object type " .. t.name .. " must define one or more fields.", t)
  end
  for _, f in ipairs(t.input_field_list or {}) do
    check_name(errors, f, t)
    if not T.is_input(f.type) then
      err(errors, "The type of " .. t.name .. "." .. f.name .. " must be Input Type but got: " ..
        T.string(f.type) .. ".", f, t)
    end
    if is_required(f) and f.deprecation_reason ~= nil then
      err(errors, "Required input field " .. t.name .. "." .. f.name .. " cannot be deprecated.",
        f, t)
    end
  end
end

-- An input object that needs itself through non-null fields can never be written (3.10):
-- a depth-first walk over those fields, each cycle reported once, from where it closes.
local function input_cycles(errors, schema)
  local visited, path, index_of = {}, {}, {}
  local function walk(t)
    if visited[t] then return end
    visited[t] = true
    index_of[t.name] = #path + 1
    for _, f in ipairs(t.input_field_list or {}) do
      local ft = f.type
      if ft.kind == "NON_NULL" and ft.of_type.kind == "INPUT_OBJECT" then
        local target = ft.of_type
        local start = index_of[target.name]
        path[#path + 1] = f
        if start == nil then
          walk(target)
        else
          local names = {}
          for i = start, #path do names[#names + 1] = path[i].name end
          err(errors, 'Cannot reference Input Object "' .. target.name ..
            '" within itself through a series of non-null fields: "' ..
            table.concat(names, ".") .. '".', path[start], t)
        end
        path[#path] = nil
      end
    end
    index_of[t.name] = nil
  end
  for _, t in ipairs(schema.type_list or {}) do
    if t.kind == "INPUT_OBJECT" then walk(t) end
  end
end

function M.types(schema)
  local T = types_lib()
  local errors = {}
  check_roots(errors, schema, T)
  check_directives(errors, schema, T)
  for _, t in ipairs(schema.type_list or {}) do
    if not t.builtin then
      check_name(errors, t)
      if t.kind == "OBJECT" or t.kind == "INTERFACE" then
        check_fields(errors, t, T)
        check_interfaces(errors, schema, t, T)
      elseif t.kind == "UNION" then
        check_union(errors, t, T)
      elseif t.kind == "ENUM" then
        check_enum(errors, t)
      elseif t.kind == "INPUT_OBJECT" then
        check_input(errors, t, T)
      end
    end
  end
  input_cycles(errors, schema)
  return errors
end

function M.check(schema, documents)
  local errors = documents and M.sdl(documents) or {}
  for _, e in ipairs(M.types(schema)) do
    -- a missing query type is nowhere: a refused reload still names the schema's first file
    if not e.file and documents and documents[1] then e.file = documents[1].file end
    errors[#errors + 1] = e
  end
  return errors
end

return M
