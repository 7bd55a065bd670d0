-- speezy.graphql.types: the type references of a built schema (a named type's table, or a
-- LIST / NON_NULL wrapper around one) and the questions the validator and executor ask of
-- them, after graphql-js's type predicates. The predicates is_leaf, is_composite and
-- is_abstract look at the type as given (a wrapper is none of them); is_input and is_output
-- look through wrappers.
local json = require "speezy.json"

local M = {}

-- Wrappers are made once per wrapped type, so a schema's references stay few and the same
-- reference usually compares equal by identity.
local function wrapper(kind)
  local made = setmetatable({}, { __mode = "k" })
  return function(t)
    local w = made[t]
    if not w then
      w = { kind = kind, of_type = t }
      made[t] = w
    end
    return w
  end
end

M.list = wrapper("LIST")
M.non_null = wrapper("NON_NULL")

function M.named(t)
  while t.of_type do t = t.of_type end
  return t
end

function M.nullable(t)
  if t.kind == "NON_NULL" then return t.of_type end
  return t
end

function M.is_non_null(t) return t.kind == "NON_NULL" end
function M.is_list(t) return t.kind == "LIST" end

local INPUT = { SCALAR = true, ENUM = true, INPUT_OBJECT = true }
local OUTPUT = { SCALAR = true, ENUM = true, OBJECT = true, INTERFACE = true, UNION = true }

function M.is_input(t) return INPUT[M.named(t).kind] == true end
function M.is_output(t) return OUTPUT[M.named(t).kind] == true end
function M.is_leaf(t) return t.kind == "SCALAR" or t.kind == "ENUM" end
function M.is_composite(t)
  return t.kind == "OBJECT" or t.kind == "INTERFACE" or t.kind == "UNION"
end
function M.is_abstract(t) return t.kind == "INTERFACE" or t.kind == "UNION" end

-- The reference a type node of a document names, or nil when a named type is unknown.
function M.from_ast(schema, node)
  local k = node.kind
  if k == "NamedType" then return schema.types[node.name] end
  local inner = M.from_ast(schema, node.type)
  if not inner then return nil end
  if k == "ListType" then return M.list(inner) end
  return M.non_null(inner)
end

function M.string(t)
  if t.kind == "LIST" then return "[" .. M.string(t.of_type) .. "]" end
  if t.kind == "NON_NULL" then return M.string(t.of_type) .. "!" end
  return t.name
end

function M.equal(a, b)
  if a == b then return true end
  if a.kind ~= b.kind or not a.of_type or not b.of_type then return false end
  return M.equal(a.of_type, b.of_type)
end

local function implements(t, iface)
  for _, i in ipairs(t.interfaces or {}) do
    if i == iface then return true end
  end
  return false
end

-- May a value of type t (an object, or an interface for interface inheritance) be of the
-- abstract type?
function M.is_possible(_, abstract, t)
  if abstract.kind == "UNION" then return abstract.possible[t.name] == true end
  if t.kind == "INTERFACE" then return implements(t, abstract) end
  return abstract.possible[t.name] == true
end

-- graphql-js's isTypeSubTypeOf: may a value of type sub stand where super is expected?
function M.is_subtype(schema, sub, super)
  if M.equal(sub, super) then return true end
  if super.kind == "NON_NULL" then
    return sub.kind == "NON_NULL" and M.is_subtype(schema, sub.of_type, super.of_type)
  end
  if sub.kind == "NON_NULL" then return M.is_subtype(schema, sub.of_type, super) end
  if super.kind == "LIST" then
    return sub.kind == "LIST" and M.is_subtype(schema, sub.of_type, super.of_type)
  end
  if sub.kind == "LIST" then return false end
  return M.is_abstract(super) and (sub.kind == "OBJECT" or sub.kind == "INTERFACE")
    and M.is_possible(schema, super, sub)
end

-- graphql-js's doTypesOverlap: can one object be of both composite types?
function M.overlap(schema, a, b)
  if a == b then return true end
  if M.is_abstract(a) then
    if M.is_abstract(b) then
      for _, t in ipairs(a.possible_types) do
        if M.is_possible(schema, b, t) then return true end
      end
      return false
    end
    return M.is_possible(schema, a, b)
  end
  if M.is_abstract(b) then return M.is_possible(schema, b, a) end
  return false
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

-- A string as a GraphQL string literal, escaped as graphql-js's printer escapes it.
function M.quote(s)
  return '"' .. s:gsub('[%z\1-\31"\\\127]', function(c)
    return ESCAPES[c] or string.format("\\u%04X", c:byte())
  end) .. '"'
end

-- An AST value as GraphQL source, the way graphql-js prints it: `{a: [1, "x"], b: $v}`.
function M.print_value(node)
  local k = node.kind
  if k == "Variable" then return "$" .. node.name end
  if k == "StringValue" then return M.quote(node.value) end
  if k == "BooleanValue" then return node.value and "true" or "false" end
  if k == "NullValue" then return "null" end
  if k == "ListValue" then
    local parts = {}
    for i, v in ipairs(node.values or {}) do parts[i] = M.print_value(v) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  if k == "ObjectValue" then
    local parts = {}
    for i, f in ipairs(node.fields or {}) do parts[i] = f.name .. ": " .. M.print_value(f.value) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return node.value -- IntValue, FloatValue, EnumValue: their text
end

local function is_array(v)
  if getmetatable(v) == json.array_mt then return true end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n > 0 and n == #v
end

-- A runtime value as graphql-js's inspect() shows it in error messages.
function M.inspect(v, depth)
  depth = depth or 0
  local t = type(v)
  if v == nil or v == json.null then return "null" end
  if t == "string" then return json.encode(v) end
  if t == "number" then
    if v ~= v then return "NaN" end
    if v == math.huge then return "Infinity" end
    if v == -math.huge then return "-Infinity" end
    return json.encode(v)
  end
  if t ~= "table" then return tostring(v) end
  if depth >= 2 then return is_array(v) and "[Array]" or "[Object]" end
  local parts = {}
  if is_array(v) then
    for i, x in ipairs(v) do parts[i] = M.inspect(x, depth + 1) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  if #keys == 0 then return "{}" end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = k .. ": " .. M.inspect(v[k], depth + 1) end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

return M
