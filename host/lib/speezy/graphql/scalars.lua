-- speezy.graphql.scalars: the specification's five built-in scalars (section 3.5), each with
-- its result coercion (serialize), its input coercion of JSON variables (parse_value) and of
-- literals in a document (parse_literal), and graphql-js's messages when a value can't be
-- coerced. A function answers the coerced value, or nil and the message.
local json = require "speezy.json"
local types = require "speezy.graphql.types"

local inspect, print_value = types.inspect, types.print_value
local floor, huge = math.floor, math.huge

local M = {}

local MAX_INT, MIN_INT = 2147483647, -2147483648

local function finite(n)
  return type(n) == "number" and n == n and n ~= huge and n ~= -huge
end

local function integral(n)
  return finite(n) and n == floor(n)
end

-- Integers print without a fraction; Lua's tostring gives "1e+15" for big ones.
local function number_text(n)
  if integral(n) and n > -1e15 and n < 1e15 then return string.format("%d", n) end
  return json.encode(n)
end

local function int_check(n, shown)
  if not integral(n) then return nil, "Int cannot represent non-integer value: " .. shown end
  if n > MAX_INT or n < MIN_INT then
    return nil, "Int cannot represent non 32-bit signed integer value: " .. shown
  end
  return n
end

local Int = {
  kind = "SCALAR", name = "Int", builtin = true,
  description = "The `Int` scalar type represents non-fractional signed whole numeric values. "
    .. "Int can represent values between -(2^31) and 2^31 - 1.",
}

function Int.serialize(v)
  if type(v) == "boolean" then return v and 1 or 0 end
  local n = v
  if type(v) == "string" and v ~= "" then n = tonumber(v) end
  if type(n) ~= "number" then
    return nil, "Int cannot represent non-integer value: " .. inspect(v)
  end
  return int_check(n, inspect(v))
end

function Int.parse_value(v)
  if type(v) ~= "number" then
    return nil, "Int cannot represent non-integer value: " .. inspect(v)
  end
  return int_check(v, inspect(v))
end

function Int.parse_literal(node)
  if node.kind ~= "IntValue" then
    return nil, "Int cannot represent non-integer value: " .. print_value(node)
  end
  local n = tonumber(node.value)
  if n > MAX_INT or n < MIN_INT then
    return nil, "Int cannot represent non 32-bit signed integer value: " .. node.value
  end
  return n
end

local Float = {
  kind = "SCALAR", name = "Float", builtin = true,
  description = "The `Float` scalar type represents signed double-precision fractional values "
    .. "as specified by [IEEE 754](https://en.wikipedia.org/wiki/IEEE_floating_point).",
}

function Float.serialize(v)
  if type(v) == "boolean" then return v and 1 or 0 end
  local n = v
  if type(v) == "string" and v ~= "" then n = tonumber(v) end
  if not finite(n) then return nil, "Float cannot represent non numeric value: " .. inspect(v) end
  return n
end

function Float.parse_value(v)
  if not finite(v) then return nil, "Float cannot represent non numeric value: " .. inspect(v) end
  return v
end

function Float.parse_literal(node)
  if node.kind ~= "FloatValue" and node.kind ~= "IntValue" then
    return nil, "Float cannot represent non numeric value: " .. print_value(node)
  end
  return tonumber(node.value)
end

local String = {
  kind = "SCALAR", name = "String", builtin = true,
  description = "The `String` scalar type represents textual data, represented as UTF-8 "
    .. "character sequences. The String type is most often used by GraphQL to represent "
    .. "free-form human-readable text.",
}

function String.serialize(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if finite(v) then return number_text(v) end
  return nil, "String cannot represent value: " .. inspect(v)
end

function String.parse_value(v)
  if type(v) ~= "string" then
    return nil, "String cannot represent a non string value: " .. inspect(v)
  end
  return v
end

function String.parse_literal(node)
  if node.kind ~= "StringValue" then
    return nil, "String cannot represent a non string value: " .. print_value(node)
  end
  return node.value
end

local Boolean = {
  kind = "SCALAR", name = "Boolean", builtin = true,
  description = "The `Boolean` scalar type represents `true` or `false`.",
}

function Boolean.serialize(v)
  if type(v) == "boolean" then return v end
  if finite(v) then return v ~= 0 end
  return nil, "Boolean cannot represent a non boolean value: " .. inspect(v)
end

function Boolean.parse_value(v)
  if type(v) ~= "boolean" then
    return nil, "Boolean cannot represent a non boolean value: " .. inspect(v)
  end
  return v
end

function Boolean.parse_literal(node)
  if node.kind ~= "BooleanValue" then
    return nil, "Boolean cannot represent a non boolean value: " .. print_value(node)
  end
  return node.value
end

local ID = {
  kind = "SCALAR", name = "ID", builtin = true,
  description = "The `ID` scalar type represents a unique identifier, often used to refetch an "
    .. "object or as key for a cache. The ID type appears in a JSON response as a String; "
    .. "however, it is not intended to be human-readable. When expected as an input type, any "
    .. "string (such as `\"4\"`) or integer (such as `4`) input value will be accepted as an ID.",
}

function ID.serialize(v)
  if type(v) == "string" then return v end
  if integral(v) then return number_text(v) end
  return nil, "ID cannot represent value: " .. inspect(v)
end

function ID.parse_value(v)
  if type(v) == "string" then return v end
  if integral(v) then return number_text(v) end
  return nil, "ID cannot represent value: " .. inspect(v)
end

function ID.parse_literal(node)
  if node.kind ~= "StringValue" and node.kind ~= "IntValue" then
    return nil, "ID cannot represent a non-string and non-integer value: " .. print_value(node)
  end
  return node.value
end

-- Templates: a schema gets its own copies (resolvers may not change the built-ins, and a
-- generation's schema must share nothing with another's).
M.builtin = { Int = Int, Float = Float, String = String, Boolean = Boolean, ID = ID }

function M.new(name)
  local t = {}
  for k, v in pairs(M.builtin[name]) do t[k] = v end
  return t
end

return M
