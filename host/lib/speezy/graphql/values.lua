-- speezy.graphql.values — input coercion for the executor (#17): the specification's section
-- 6.1.2 (variables), 6.4.1 (arguments) and the input coercion tables of section 3 (scalars,
-- enums, input objects, lists, non-null), with graphql-js 16's messages so clients and the
-- corpus agree.
--
-- Inside Lua, "absent" and "null" differ: absent is nil, null is json.null. A function that
-- coerces returns nil for an invalid value (graphql-js's undefined), never raises for one.
--
--   values.coerce_variable_values(schema, operation, inputs) -> coerced | nil, errors
--   values.coerce_argument_values(def, node, variables)      -> args | nil, error
--   values.value_from_ast(node, R[, variables])              -> value | nil (invalid)
--   values.coerce_input_value(value, R[, on_error[, path]])  -> value (on_error(path, v, msg))
local json = require "speezy.json"
local types = require "speezy.graphql.types"

local inspect = types.inspect

local M = {}

local NULL = json.null
local ARRAY_MT = json.array_mt

-- A Lua table stands for a JSON array when decode marked it, or when it has a first item.
local function is_array(v)
  return type(v) == "table" and (getmetatable(v) == ARRAY_MT or v[1] ~= nil)
end

-- graphql-js's printPathArray: .field and [index], as the message of a variable shows where.
local function print_path(path)
  local parts = {}
  for i = 1, #path do
    local k = path[i]
    parts[i] = type(k) == "number" and "[" .. k .. "]" or "." .. k
  end
  return table.concat(parts)
end

-- The literal of a scalar without parse_literal: the value a JSON client would have sent.
local function value_from_ast_untyped(node, variables)
  local kind = node.kind
  if kind == "NullValue" then return NULL end
  if kind == "IntValue" or kind == "FloatValue" then return tonumber(node.value) end
  if kind == "StringValue" or kind == "EnumValue" or kind == "BooleanValue" then
    return node.value
  end
  if kind == "ListValue" then
    local out = json.array({})
    for i, item in ipairs(node.values or {}) do out[i] = value_from_ast_untyped(item, variables) end
    return out
  end
  if kind == "ObjectValue" then
    local out = {}
    for _, f in ipairs(node.fields or {}) do
      out[f.name] = value_from_ast_untyped(f.value, variables)
    end
    return out
  end
  if kind == "Variable" then return variables and variables[node.name] end
end

-- A scalar's own coercion: (value) -> v | nil, msg; a raise counts as a refusal with its text.
local function call_coercion(fn, v)
  local ok, r, msg = pcall(fn, v)
  if not ok then
    return nil, type(r) == "table" and r.message or tostring(r)
  end
  return r, msg
end

local function is_missing_variable(node, variables)
  return node.kind == "Variable" and (variables == nil or variables[node.name] == nil)
end

-- A default value (an AST node of the schema) coerced: a scalar once (the schema lives for its
-- generation, and a default never names a variable), a list or object each time, since a
-- resolver may change the args it got.
local function default_of(a)
  local d = a._default
  if d == nil then
    d = M.value_from_ast(a.default_value, a.type)
    if d == nil then d = NULL end -- the schema's checks refuse invalid defaults
    if type(d) ~= "table" then a._default = d end
  end
  return d
end
M.default_of = default_of

-- valueFromAST: a literal (possibly naming variables, already coerced) to R's internal value.
-- item: node is an item of a list literal, where a list type takes only a list (3.11's table:
-- [[Int]] refuses [1, 2, 3]; graphql-js 16 would take it as [[1], [2], [3]]).
function M.value_from_ast(node, R, variables, item)
  if node == nil then return nil end
  local kind = node.kind
  if kind == "Variable" then
    local v = variables and variables[node.name]
    if v == nil then return nil end
    -- a variable of a nullable type may hold null where R is non-null: invalid
    if v == NULL and R.kind == "NON_NULL" then return nil end
    return v
  end
  if R.kind == "NON_NULL" then
    if kind == "NullValue" then return nil end
    return M.value_from_ast(node, R.of_type, variables, item)
  end
  if kind == "NullValue" then return NULL end
  if R.kind == "LIST" then
    local item_type = R.of_type
    if kind ~= "ListValue" then
      if item then return nil end
      local v = M.value_from_ast(node, item_type, variables)
      if v == nil then return nil end
      return json.array({ v })
    end
    local out = json.array({})
    for i, inode in ipairs(node.values or {}) do
      if is_missing_variable(inode, variables) then
        if item_type.kind == "NON_NULL" then return nil end
        out[i] = NULL
      else
        local v = M.value_from_ast(inode, item_type, variables, true)
        if v == nil then return nil end
        out[i] = v
      end
    end
    return out
  end
  if R.kind == "INPUT_OBJECT" then
    if kind ~= "ObjectValue" then return nil end
    local given = {}
    for _, f in ipairs(node.fields or {}) do
      -- 3.10's table: an unexpected field is an error (graphql-js 16 leaves it to validation)
      if not R.input_fields[f.name] then return nil end
      given[f.name] = f.value
    end
    local out = {}
    for _, a in ipairs(R.input_field_list or {}) do
      local fnode = given[a.name]
      if fnode == nil or is_missing_variable(fnode, variables) then
        if a.default_value ~= nil then
          out[a.name] = default_of(a)
        elseif a.type.kind == "NON_NULL" then
          return nil
        end
      else
        local v = M.value_from_ast(fnode, a.type, variables)
        if v == nil then return nil end
        out[a.name] = v
      end
    end
    return out
  end
  if R.kind == "ENUM" then
    if kind ~= "EnumValue" or not R.values[node.value] then return nil end
    return node.value
  end
  -- SCALAR
  if R.parse_literal then
    local v = call_coercion(R.parse_literal, node)
    return v
  end
  return value_from_ast_untyped(node, variables)
end

-- coerceInputValue: a JSON value (a variable's) to R's internal value; each refusal calls
-- on_error(path, invalid_value, message) and leaves nil in its place. item: as value_from_ast.
-- path is one stack the walk pushes to and pops from (a big list costs no table per item):
-- on_error reads it at once, or copies it.
function M.coerce_input_value(value, R, on_error, path, item)
  path = path or {}
  on_error = on_error or function() end
  local kind = R.kind
  if kind == "NON_NULL" then
    if value ~= NULL and value ~= nil then
      return M.coerce_input_value(value, R.of_type, on_error, path, item)
    end
    on_error(path, value, 'Expected non-nullable type "' .. types.string(R) .. '" not to be null.')
    return nil
  end
  if value == NULL or value == nil then return NULL end
  if kind == "LIST" then
    local item_type = R.of_type
    if type(value) == "table" and (is_array(value) or next(value) == nil) then
      local out = json.array({})
      for i = 1, #value do
        local n = #path + 1
        path[n] = i - 1
        local v = M.coerce_input_value(value[i], item_type, on_error, path, true)
        path[n] = nil
        out[i] = v == nil and NULL or v
      end
      return out
    end
    if item then
      on_error(path, value, 'Expected type "' .. types.string(R) .. '" to be a list.')
      return nil
    end
    local v = M.coerce_input_value(value, item_type, on_error, path)
    return json.array({ v == nil and NULL or v })
  end
  if kind == "INPUT_OBJECT" then
    if type(value) ~= "table" or is_array(value) then
      on_error(path, value, 'Expected type "' .. R.name .. '" to be an object.')
      return nil
    end
    local out = {}
    for _, a in ipairs(R.input_field_list or {}) do
      local v = value[a.name]
      if v == nil then
        if a.default_value ~= nil then
          out[a.name] = default_of(a)
        elseif a.type.kind == "NON_NULL" then
          on_error(path, value, 'Field "' .. a.name .. '" of required type "' ..
            types.string(a.type) .. '" was not provided.')
        end
      else
        local n = #path + 1
        path[n] = a.name
        out[a.name] = M.coerce_input_value(v, a.type, on_error, path)
        path[n] = nil
      end
    end
    local unknown = {}
    for k in pairs(value) do
      if not R.input_fields[k] then unknown[#unknown + 1] = tostring(k) end
    end
    table.sort(unknown)
    for _, k in ipairs(unknown) do
      on_error(path, value, 'Field "' .. k .. '" is not defined by type "' .. R.name .. '".')
    end
    return out
  end
  if kind == "ENUM" then
    if type(value) ~= "string" then
      on_error(path, value, 'Enum "' .. R.name .. '" cannot represent non-string value: ' ..
        inspect(value) .. ".")
      return nil
    end
    if not R.values[value] then
      on_error(path, value, 'Value "' .. value .. '" does not exist in "' .. R.name .. '" enum.')
      return nil
    end
    return value
  end
  -- SCALAR
  if not R.parse_value then return value end
  local v, msg = call_coercion(R.parse_value, value)
  if v == nil then
    on_error(path, value, msg or ('Expected type "' .. R.name .. '".'))
  end
  return v
end

-- A type node as GraphQL text, for a variable whose type the schema does not have.
local function print_type(node)
  if node.kind == "NonNullType" then return print_type(node.type) .. "!" end
  if node.kind == "ListType" then return "[" .. print_type(node.type) .. "]" end
  return node.name
end

-- A refused variable or argument, located at its definition or value.
local function input_error(message, node)
  return { message = message, locations = { { line = node.line, column = node.column } },
           extensions = { code = "BAD_USER_INPUT" } }
end

-- The variables of an operation that declares none: shared, so nobody may write in it.
local NO_VARIABLES = setmetatable({}, {
  __newindex = function() error("graphql: the variable values are read-only", 2) end,
})

-- The specification's CoerceVariableValues, with graphql-js's messages; at most 50 errors.
function M.coerce_variable_values(schema, operation, inputs)
  if not operation.variableDefinitions then return NO_VARIABLES end -- the common case
  if type(inputs) ~= "table" then inputs = {} end -- absent, or "variables": null
  local coerced, errors = {}, {}
  local function add(message, node)
    if #errors >= 50 then
      error({ stop = true }, 0)
    end
    errors[#errors + 1] = input_error(message, node)
  end
  local ok, e = pcall(function()
    for _, def in ipairs(operation.variableDefinitions or {}) do
      local name = def.variable.name
      local R = types.from_ast(schema, def.type)
      if not R or not types.is_input(R) then
        add('Variable "$' .. name .. '" expected value of type "' ..
          (R and types.string(R) or print_type(def.type)) ..
          '" which cannot be used as an input type.', def)
      else
        local value = inputs[name]
        if value == nil then
          if def.defaultValue then
            coerced[name] = M.value_from_ast(def.defaultValue, R)
          elseif R.kind == "NON_NULL" then
            add('Variable "$' .. name .. '" of required type "' .. types.string(R) ..
              '" was not provided.', def)
          end
        elseif value == NULL and R.kind == "NON_NULL" then
          add('Variable "$' .. name .. '" of non-null type "' .. types.string(R) ..
            '" must not be null.', def)
        else
          coerced[name] = M.coerce_input_value(value, R, function(path, invalid, msg)
            local at = #path > 0 and (' at "' .. name .. print_path(path) .. '"') or ""
            add('Variable "$' .. name .. '" got invalid value ' .. inspect(invalid) .. at ..
              "; " .. msg, def)
          end)
        end
      end
    end
  end)
  if not ok then
    if type(e) ~= "table" or not e.stop then error(e, 0) end
    errors[#errors + 1] = { message =
      "Too many errors processing variables, error limit reached. Execution aborted.",
      extensions = { code = "BAD_USER_INPUT" } }
  end
  if #errors > 0 then return nil, errors end
  return coerced
end


-- The specification's CoerceArgumentValues for a field or directive definition (F or D) at
-- node: args, or nil and the first error (graphql-js stops at the first).
function M.coerce_argument_values(def, node, variables)
  local coerced = {}
  local list = def.arg_list
  if not list or #list == 0 then return coerced end
  local given = {}
  for _, a in ipairs(node.arguments or {}) do given[a.name] = a end
  for _, a in ipairs(list) do
    local name, R = a.name, a.type
    local arg = given[name]
    local non_null = R.kind == "NON_NULL"
    if not arg then
      if a.default_value ~= nil then
        coerced[name] = default_of(a)
      elseif non_null then
        return nil, input_error('Argument "' .. name .. '" of required type "' .. types.string(R) ..
          '" was not provided.', node)
      end
    else
      local vnode = arg.value
      local is_null = vnode.kind == "NullValue"
      local skip = false
      if vnode.kind == "Variable" then
        local var = vnode.name
        if variables == nil or variables[var] == nil then
          skip = true
          if a.default_value ~= nil then
            coerced[name] = default_of(a)
          elseif non_null then
            return nil, input_error('Argument "' .. name .. '" of required type "' ..
              types.string(R) .. '" was provided the variable "$' .. var ..
              '" which was not provided a runtime value.', vnode)
          end
        else
          is_null = variables[var] == NULL
        end
      end
      if not skip then
        if is_null and non_null then
          return nil, input_error('Argument "' .. name .. '" of non-null type "' ..
            types.string(R) .. '" must not be null.', vnode)
        end
        local v = M.value_from_ast(vnode, R, variables)
        if v == nil then
          return nil, input_error('Argument "' .. name .. '" has invalid value ' ..
            types.print_value(vnode) .. ".", vnode)
        end
        coerced[name] = v
      end
    end
  end
  return coerced
end

return M
