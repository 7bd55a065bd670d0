-- speezy.graphql.validate_values: the rule ValuesOfCorrectType (specification 5.6.1, Values
-- of Correct Type): every literal in the document (arguments, list items, input object fields,
-- variable defaults) is a value its position accepts, with graphql-js 16's messages, the
-- built-in scalars' and enums' own included.
local types = require "speezy.graphql.types"
local util = require "speezy.graphql.util"

local fmt = string.format
local did_you_mean, suggestions = util.did_you_mean, util.suggestions

-- The specification's scalars: their parse_literal's message is the error itself.
local SPECIFIED = { Int = true, Float = true, String = true, Boolean = true, ID = true }

local function enum_hint(t, text)
  local names = {}
  for i, v in ipairs(t.value_list or {}) do
    names[i] = v.name
  end
  return did_you_mean("the enum value", suggestions(text, names))
end

-- Why a literal does not fit a leaf type, or nil when it does.
local function leaf_error(t, location_type, node)
  local text = types.print_value(node)
  if t.kind == "ENUM" then
    if node.kind ~= "EnumValue" then
      return fmt('Enum "%s" cannot represent non-enum value: %s.', t.name, text)
        .. enum_hint(t, text)
    elseif not t.values[node.value] then
      return fmt('Value "%s" does not exist in "%s" enum.', text, t.name) .. enum_hint(t, text)
    end
    return nil
  end
  if not t.parse_literal then
    return nil -- a custom scalar without parse_literal takes any literal
  end
  local expected = fmt('Expected value of type "%s", found %s', types.string(location_type), text)
  local ok, v, msg = pcall(t.parse_literal, node)
  if not ok then
    return expected .. "; " .. tostring(v)
  elseif v == nil then
    if SPECIFIED[t.name] and msg then
      return msg
    end
    return msg and expected .. "; " .. msg or expected .. "."
  end
  return nil
end

return function(ctx)
  -- graphql-js's isValidValueNode: the literal against the position's leaf type.
  local function check_leaf(node)
    local location_type = ctx:input_type()
    if not location_type then
      return
    end
    local t = types.named(location_type)
    if not types.is_leaf(t) then
      ctx:report(fmt('Expected value of type "%s", found %s.', types.string(location_type),
        types.print_value(node)), { node })
      return
    end
    local msg = leaf_error(t, location_type, node)
    if msg then
      ctx:report(msg, { node })
    end
  end

  return {
    ListValue = function(node)
      -- the position's own type: entering the list moved the input type to its items
      local t = ctx:parent_input_type()
      if not (t and types.is_list(types.nullable(t))) then
        check_leaf(node)
        return false
      end
    end,
    ObjectValue = function(node)
      local t = ctx:input_type() and types.named(ctx:input_type())
      if not (t and t.kind == "INPUT_OBJECT") then
        check_leaf(node)
        return false
      end
      local given = {}
      for _, f in ipairs(node.fields or {}) do
        given[f.name] = true
      end
      for _, field in ipairs(t.input_field_list or {}) do
        if not given[field.name] and types.is_non_null(field.type)
          and field.default_value == nil then
          ctx:report(fmt('Field "%s.%s" of required type "%s" was not provided.', t.name,
            field.name, types.string(field.type)), { node })
        end
      end
      if util.is_one_of(t) then
        local names, seen, last = 0, {}, nil
        for _, f in ipairs(node.fields or {}) do
          if not seen[f.name] then
            seen[f.name] = true
            names = names + 1
          end
          last = f -- of a repeated name, graphql-js keeps the last
        end
        if names ~= 1 then
          ctx:report(fmt('OneOf Input Object "%s" must specify exactly one key.', t.name),
            { node })
        elseif last.value.kind == "NullValue" then
          ctx:report(fmt('Field "%s.%s" must be non-null.', t.name, last.name), { node })
        end
      end
    end,
    ObjectField = function(node)
      local parent = ctx:parent_input_type() and types.named(ctx:parent_input_type())
      if not ctx:input_type() and parent and parent.kind == "INPUT_OBJECT" then
        local names = {}
        for i, f in ipairs(parent.input_field_list or {}) do
          names[i] = f.name
        end
        ctx:report(fmt('Field "%s" is not defined by type "%s".', node.name, parent.name)
          .. did_you_mean(suggestions(node.name, names)), { node })
      end
    end,
    NullValue = function(node)
      local t = ctx:input_type()
      if t and types.is_non_null(t) then
        ctx:report(fmt('Expected value of type "%s", found null.', types.string(t)), { node })
      end
    end,
    EnumValue = check_leaf,
    IntValue = check_leaf,
    FloatValue = check_leaf,
    StringValue = check_leaf,
    BooleanValue = check_leaf,
  }
end
