-- speezy.graphql.util: what the SDL checks and the validation rules share: graphql-js's
-- "Did you mean" suggestions (so a typo gets the hint clients know), the directive location
-- and the kind of each node, the text of a type node, and where a name sits in the source.
local M = {}

-- Where a directive stands, as a __DirectiveLocation name, by the kind of the node it is on
-- (operations, input values and variable definitions need their context: the callers').
M.LOCATION = {
  Field = "FIELD", FragmentSpread = "FRAGMENT_SPREAD", InlineFragment = "INLINE_FRAGMENT",
  FragmentDefinition = "FRAGMENT_DEFINITION", VariableDefinition = "VARIABLE_DEFINITION",
  SchemaDefinition = "SCHEMA", SchemaExtension = "SCHEMA",
  ScalarTypeDefinition = "SCALAR", ScalarTypeExtension = "SCALAR",
  ObjectTypeDefinition = "OBJECT", ObjectTypeExtension = "OBJECT",
  FieldDefinition = "FIELD_DEFINITION",
  InterfaceTypeDefinition = "INTERFACE", InterfaceTypeExtension = "INTERFACE",
  UnionTypeDefinition = "UNION", UnionTypeExtension = "UNION",
  EnumValueDefinition = "ENUM_VALUE",
  EnumTypeDefinition = "ENUM", EnumTypeExtension = "ENUM",
  InputObjectTypeDefinition = "INPUT_OBJECT", InputObjectTypeExtension = "INPUT_OBJECT",
}

-- The __TypeKind a type definition defines, and the one a type extension extends.
M.DEFINES = {
  ScalarTypeDefinition = "SCALAR", ObjectTypeDefinition = "OBJECT",
  InterfaceTypeDefinition = "INTERFACE", UnionTypeDefinition = "UNION",
  EnumTypeDefinition = "ENUM", InputObjectTypeDefinition = "INPUT_OBJECT",
}
M.EXTENDS = {
  ScalarTypeExtension = "SCALAR", ObjectTypeExtension = "OBJECT",
  InterfaceTypeExtension = "INTERFACE", UnionTypeExtension = "UNION",
  EnumTypeExtension = "ENUM", InputObjectTypeExtension = "INPUT_OBJECT",
}
-- A kind in the words of graphql-js's messages ("Cannot extend non-object type").
M.KIND_WORD = { SCALAR = "scalar", OBJECT = "object", INTERFACE = "interface",
                UNION = "union", ENUM = "enum", INPUT_OBJECT = "input object" }

local byte, lower = string.byte, string.lower
local floor, min = math.floor, math.min

-- Damerau-Levenshtein distance (optimal string alignment) between two lower-cased names, or
-- nil once it passes threshold: graphql-js's LexicalDistance, which ranks the suggestions.
local function distance(input, input_lower, option, threshold)
  if input == option then
    return 0
  end
  local option_lower = lower(option)
  if input_lower == option_lower then
    return 1
  end
  local a, b = option_lower, input_lower
  if #a < #b then
    a, b = b, a
  end
  local alen, blen = #a, #b
  if alen - blen > threshold then
    return nil
  end
  local rows = { {}, {}, {} }
  for j = 0, blen do
    rows[1][j] = j
  end
  for i = 1, alen do
    local up, cur = rows[(i - 1) % 3 + 1], rows[i % 3 + 1]
    cur[0] = i
    local smallest = i
    local ai = byte(a, i)
    for j = 1, blen do
      local bj = byte(b, j)
      local cost = ai == bj and 0 or 1
      local cell = min(up[j] + 1, cur[j - 1] + 1, up[j - 1] + cost)
      if i > 1 and j > 1 and ai == byte(b, j - 1) and byte(a, i - 1) == bj then
        cell = min(cell, rows[(i - 2) % 3 + 1][j - 2] + 1)
      end
      if cell < smallest then
        smallest = cell
      end
      cur[j] = cell
    end
    if smallest > threshold then
      return nil
    end
  end
  local d = rows[alen % 3 + 1][blen]
  return d <= threshold and d or nil
end

local function is_digit(c)
  return c and c >= 48 and c <= 57
end

-- graphql-js's naturalCompare: digit runs compare as numbers ("a2" before "a10").
function M.natural_less(x, y)
  local i, j = 1, 1
  while i <= #x and j <= #y do
    local a, b = byte(x, i), byte(y, j)
    if is_digit(a) and is_digit(b) then
      local na, nb = 0, 0
      repeat
        i = i + 1
        na = na * 10 + a - 48
        a = byte(x, i)
      until not (is_digit(a) and na > 0)
      repeat
        j = j + 1
        nb = nb * 10 + b - 48
        b = byte(y, j)
      until not (is_digit(b) and nb > 0)
      if na ~= nb then
        return na < nb
      end
    else
      if a ~= b then
        return a < b
      end
      i, j = i + 1, j + 1
    end
  end
  return #x < #y
end

-- The options close enough to input, nearest first: graphql-js's suggestionList.
function M.suggestions(input, options)
  local threshold = floor(#input * 0.4) + 1
  local input_lower = lower(input)
  local found, dist = {}, {}
  for _, option in ipairs(options) do
    local d = distance(input, input_lower, option, threshold)
    if d and not dist[option] then
      dist[option] = d
      found[#found + 1] = option
    end
  end
  table.sort(found, function(x, y)
    if dist[x] ~= dist[y] then
      return dist[x] < dist[y]
    end
    return M.natural_less(x, y)
  end)
  return found
end

-- ' Did you mean "a", "b", or "c"?' (at most five), or "" without suggestions.
function M.did_you_mean(sub, list)
  if list == nil then
    sub, list = nil, sub
  end
  local n = #list
  if n == 0 then
    return ""
  end
  local msg = " Did you mean " .. (sub and sub .. " " or "")
  local quoted = {}
  for i = 1, min(n, 5) do
    quoted[i] = '"' .. list[i] .. '"'
  end
  if n == 1 then
    return msg .. quoted[1] .. "?"
  elseif n == 2 then
    return msg .. quoted[1] .. " or " .. quoted[2] .. "?"
  end
  local last = table.remove(quoted)
  return msg .. table.concat(quoted, ", ") .. ", or " .. last .. "?"
end

-- A type node as GraphQL source: "[Int!]!".
function M.type_text(node)
  if node.kind == "NonNullType" then
    return M.type_text(node.type) .. "!"
  elseif node.kind == "ListType" then
    return "[" .. M.type_text(node.type) .. "]"
  end
  return node.name
end

-- The AST gives the position of a node, not of its name; graphql-js points some errors at the
-- name. The name follows a fixed prefix (`query `, `fragment `, `...`, `$`): offset is its
-- length, exact for the usual spacing. A parser that records name_line/name_column wins.
function M.name_loc(node, offset)
  if node.name_line then
    return { line = node.name_line, column = node.name_column }
  end
  return { line = node.line, column = node.column + offset }
end

-- Whether an input object is a OneOf input object (@oneOf: exactly one field, not null).
function M.is_one_of(t)
  if t.one_of ~= nil then
    return t.one_of == true
  end
  for _, d in ipairs(t.directives or {}) do
    if d.name == "oneOf" then
      return true
    end
  end
  return false
end

return M
