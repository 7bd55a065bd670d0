-- speezy.graphql.validate_rules: the rules of graphql-js 16's specifiedRules but the two big
-- ones (validate_values.lua: ValuesOfCorrectType, validate_overlap.lua:
-- OverlappingFieldsCanBeMerged). Each is function(ctx) -> visitor (see validate.lua); the
-- messages are graphql-js's, so clients and tools see the wording they know.
local types = require "speezy.graphql.types"
local util = require "speezy.graphql.util"

local did_you_mean, suggestions = util.did_you_mean, util.suggestions
local name_loc, type_text = util.name_loc, util.type_text
local fmt = string.format

local R = {}

local EXECUTABLE = { OperationDefinition = true, FragmentDefinition = true }
local function no_more()
  return false
end

-- Lists grouped by a key, the groups in the order their first member came.
local function group_by(list, key)
  local order, groups = {}, {}
  for _, item in ipairs(list or {}) do
    local k = key(item)
    if not groups[k] then
      groups[k] = {}
      order[#order + 1] = k
    end
    table.insert(groups[k], item)
  end
  return order, groups
end

local function op_name_loc(op)
  return name_loc(op, #op.operation + 1)
end

local function fragment_name_loc(frag)
  return name_loc(frag, #"fragment ")
end

local function variable_name_loc(var)
  return name_loc(var, 1)
end

-- 5.1.1 Executable Definitions
function R.ExecutableDefinitions(ctx)
  return {
    Document = function(doc)
      for _, def in ipairs(doc.definitions or {}) do
        if not EXECUTABLE[def.kind] then
          local name = (def.kind == "SchemaDefinition" or def.kind == "SchemaExtension")
            and "schema" or '"' .. def.name .. '"'
          ctx:report(fmt("The %s definition is not executable.", name), { def })
        end
      end
      return false
    end,
  }
end

-- 5.2.1.1 Operation Name Uniqueness
function R.UniqueOperationNames(ctx)
  local known = {}
  return {
    OperationDefinition = function(op)
      if op.name then
        local first = known[op.name]
        if first then
          ctx:report(fmt('There can be only one operation named "%s".', op.name),
            { op_name_loc(first), op_name_loc(op) })
        else
          known[op.name] = op
        end
      end
      return false
    end,
    FragmentDefinition = no_more,
  }
end

-- 5.2.2.1 Lone Anonymous Operation
function R.LoneAnonymousOperation(ctx)
  local count = 0
  return {
    Document = function(doc)
      for _, def in ipairs(doc.definitions or {}) do
        if def.kind == "OperationDefinition" then
          count = count + 1
        end
      end
    end,
    OperationDefinition = function(op)
      if not op.name and count > 1 then
        ctx:report("This anonymous operation must be the only defined operation.", { op })
      end
    end,
  }
end

-- Whether @skip / @include leave a selection in, their arguments read as literals (a variable
-- has no value while validating: the selection stays).
local function included(node)
  for _, d in ipairs(node.directives or {}) do
    if d.name == "skip" or d.name == "include" then
      local arg = d.arguments and d.arguments[1]
      local v = arg and arg.name == "if" and arg.value
      if v and v.kind == "BooleanValue" and v.value == (d.name == "skip") then
        return false
      end
    end
  end
  return true
end

local function condition_matches(schema, cond, t)
  if not cond then
    return true
  end
  local ct = types.from_ast(schema, cond)
  if ct == t then
    return true
  end
  return ct ~= nil and types.is_abstract(ct) and types.is_possible(schema, ct, t)
end

-- The root fields of a selection set by response name, fragments followed (graphql-js's
-- collectFields), without recursion: a long chain of fragments is a loop, not a deep stack.
local function collect_fields(ctx, t, set)
  local order, by = {}, {}
  local visited = {}
  local stack = { { set.selections or {}, 0 } }
  while #stack > 0 do
    local frame = stack[#stack]
    frame[2] = frame[2] + 1
    local sel = frame[1][frame[2]]
    if not sel then
      stack[#stack] = nil
    elseif included(sel) then
      if sel.kind == "Field" then
        local key = sel.alias or sel.name
        if not by[key] then
          by[key] = {}
          order[#order + 1] = key
        end
        table.insert(by[key], sel)
      elseif sel.kind == "InlineFragment" then
        if condition_matches(ctx.schema, sel.typeCondition, t) then
          stack[#stack + 1] = { sel.selectionSet.selections or {}, 0 }
        end
      elseif not visited[sel.name] then
        visited[sel.name] = true
        local frag = ctx:fragment(sel.name)
        if frag and condition_matches(ctx.schema, frag.typeCondition, t) then
          stack[#stack + 1] = { frag.selectionSet.selections or {}, 0 }
        end
      end
    end
  end
  return order, by
end

-- 5.2.3.1 Single Root Field
function R.SingleFieldSubscriptions(ctx)
  return {
    OperationDefinition = function(op)
      local t = ctx.schema.subscription
      if op.operation ~= "subscription" or not t then
        return
      end
      local who = op.name and fmt('Subscription "%s"', op.name) or "Anonymous Subscription"
      local order, by = collect_fields(ctx, t, op.selectionSet)
      if #order > 1 then
        local extra = {}
        for i = 2, #order do
          for _, n in ipairs(by[order[i]]) do
            extra[#extra + 1] = n
          end
        end
        ctx:report(who .. " must select only one top level field.", extra)
      end
      for _, key in ipairs(order) do
        local nodes = by[key]
        if nodes[1].name:sub(1, 2) == "__" then
          ctx:report(who .. " must not select an introspection top level field.", nodes)
        end
      end
    end,
  }
end

local STANDARD_TYPES = {
  "String", "Int", "Float", "Boolean", "ID", "__Schema", "__Directive", "__DirectiveLocation",
  "__Type", "__Field", "__InputValue", "__EnumValue", "__TypeKind",
}
local is_standard = {}
for _, n in ipairs(STANDARD_TYPES) do
  is_standard[n] = true
end

-- 5.5.1.2 Fragment Spread Type Existence (and every other named type)
function R.KnownTypeNames(ctx)
  local defined = {}
  local names
  return {
    Document = function(doc)
      for _, def in ipairs(doc.definitions or {}) do
        if def.kind:find("TypeDefinition$") then
          defined[def.name] = true
        end
      end
    end,
    NamedType = function(node)
      local name = node.name
      if ctx.schema.types[name] or defined[name] then
        return
      end
      local sdl = ctx:in_sdl()
      if sdl and is_standard[name] then
        return
      end
      if not names then
        names = {}
        for n in pairs(ctx.schema.types) do
          names[#names + 1] = n
        end
        for n in pairs(defined) do
          names[#names + 1] = n
        end
      end
      local options = names
      if sdl then
        options = { unpack(STANDARD_TYPES) }
        for _, n in ipairs(names) do
          options[#options + 1] = n
        end
      end
      ctx:report(fmt('Unknown type "%s".', name) .. did_you_mean(suggestions(name, options)),
        { node })
    end,
  }
end

-- 5.5.1.3 Fragments On Composite Types
function R.FragmentsOnCompositeTypes(ctx)
  local function composite_or_unknown(cond)
    local t = types.from_ast(ctx.schema, cond)
    return t == nil or types.is_composite(t)
  end
  return {
    InlineFragment = function(node)
      local cond = node.typeCondition
      if cond and not composite_or_unknown(cond) then
        ctx:report(fmt('Fragment cannot condition on non composite type "%s".', type_text(cond)),
          { cond })
      end
    end,
    FragmentDefinition = function(node)
      local cond = node.typeCondition
      if not composite_or_unknown(cond) then
        ctx:report(fmt('Fragment "%s" cannot condition on non composite type "%s".', node.name,
          type_text(cond)), { cond })
      end
    end,
  }
end

-- 5.8.2 Variables Are Input Types
function R.VariablesAreInputTypes(ctx)
  return {
    VariableDefinition = function(node)
      local t = types.from_ast(ctx.schema, node.type)
      if t ~= nil and not types.is_input(t) then
        ctx:report(fmt('Variable "$%s" cannot be non-input type "%s".', node.variable.name,
          type_text(node.type)), { node.type })
      end
    end,
  }
end

-- 5.3.3 Leaf Field Selections
function R.ScalarLeafs(ctx)
  return {
    Field = function(node)
      local t = ctx:type()
      if not t then
        return
      end
      local set = node.selectionSet
      if types.is_leaf(types.named(t)) then
        if set then
          ctx:report(fmt('Field "%s" must not have a selection since type "%s" has no subfields.',
            node.name, types.string(t)), { set })
        end
      elseif not set then
        ctx:report(fmt('Field "%s" of type "%s" must have a selection of subfields. '
          .. 'Did you mean "%s { ... }"?', node.name, types.string(t), node.name), { node })
      end
    end,
  }
end

-- The types of an abstract type that have the field, those more used first, then interfaces
-- before the types implementing them (graphql-js's getSuggestedTypeNames).
local function suggested_type_names(t, name)
  if not types.is_abstract(t) then
    return {}
  end
  local found, list, usage = {}, {}, {}
  local function add(x)
    if not found[x] then
      found[x] = true
      list[#list + 1] = x
    end
    usage[x.name] = (usage[x.name] or 0) + 1
  end
  for _, possible in ipairs(t.possible_types or {}) do
    if possible.fields[name] then
      add(possible)
      usage[possible.name] = 1
      for _, iface in ipairs(possible.interfaces or {}) do
        if iface.fields[name] then
          add(iface)
        end
      end
    end
  end
  local function implements(super, sub)
    for _, i in ipairs(sub.interfaces or {}) do
      if i == super then
        return true
      end
    end
    return false
  end
  table.sort(list, function(a, b)
    if usage[a.name] ~= usage[b.name] then
      return usage[a.name] > usage[b.name]
    end
    if a.kind == "INTERFACE" and implements(a, b) then
      return true
    end
    if b.kind == "INTERFACE" and implements(b, a) then
      return false
    end
    return util.natural_less(a.name, b.name)
  end)
  local names = {}
  for i, x in ipairs(list) do
    names[i] = x.name
  end
  return names
end

-- 5.3.1 Field Selections
function R.FieldsOnCorrectType(ctx)
  return {
    Field = function(node)
      local t = ctx:parent_type()
      if not t or ctx:field_def() then
        return
      end
      local hint = did_you_mean("to use an inline fragment on",
        suggested_type_names(t, node.name))
      if hint == "" and t.field_list then
        local names = {}
        for i, f in ipairs(t.field_list) do
          names[i] = f.name
        end
        hint = did_you_mean(suggestions(node.name, names))
      end
      ctx:report(fmt('Cannot query field "%s" on type "%s".', node.name, t.name) .. hint, { node })
    end,
  }
end

-- 5.5.1.1 Fragment Name Uniqueness
function R.UniqueFragmentNames(ctx)
  local known = {}
  return {
    OperationDefinition = no_more,
    FragmentDefinition = function(node)
      local first = known[node.name]
      if first then
        ctx:report(fmt('There can be only one fragment named "%s".', node.name),
          { fragment_name_loc(first), fragment_name_loc(node) })
      else
        known[node.name] = node
      end
      return false
    end,
  }
end

-- 5.5.2.1 Fragment Spread Target Defined
function R.KnownFragmentNames(ctx)
  return {
    FragmentSpread = function(node)
      if not ctx:fragment(node.name) then
        ctx:report(fmt('Unknown fragment "%s".', node.name), { name_loc(node, 3) })
      end
    end,
  }
end

-- 5.5.1.4 Fragments Must Be Used
function R.NoUnusedFragments(ctx)
  local ops, frags = {}, {}
  return {
    OperationDefinition = function(node)
      ops[#ops + 1] = node
      return false
    end,
    FragmentDefinition = function(node)
      frags[#frags + 1] = node
      return false
    end,
    ["Document:leave"] = function()
      local used = {}
      for _, frag in ipairs(ctx:recursive_fragments_for(ops)) do
        used[frag.name] = true
      end
      for _, frag in ipairs(frags) do
        if not used[frag.name] then
          ctx:report(fmt('Fragment "%s" is never used.', frag.name), { frag })
        end
      end
    end,
  }
end

-- 5.5.2.3 Fragment Spread Is Possible
function R.PossibleFragmentSpreads(ctx)
  local function composite(t)
    return t ~= nil and types.is_composite(t)
  end
  return {
    InlineFragment = function(node)
      local frag_t, parent_t = ctx:type(), ctx:parent_type()
      if composite(frag_t) and composite(parent_t)
        and not types.overlap(ctx.schema, frag_t, parent_t) then
        ctx:report(fmt('Fragment cannot be spread here as objects of type "%s" can never be of '
          .. 'type "%s".', types.string(parent_t), types.string(frag_t)), { node })
      end
    end,
    FragmentSpread = function(node)
      local frag = ctx:fragment(node.name)
      local frag_t = frag and types.from_ast(ctx.schema, frag.typeCondition)
      local parent_t = ctx:parent_type()
      if composite(frag_t) and parent_t and not types.overlap(ctx.schema, frag_t, parent_t) then
        ctx:report(fmt('Fragment "%s" cannot be spread here as objects of type "%s" can never '
          .. 'be of type "%s".', node.name, types.string(parent_t), types.string(frag_t)),
          { node })
      end
    end,
  }
end

-- 5.5.2.2 Fragment Spreads Must Not Form Cycles. graphql-js's depth-first search, with the
-- path kept in a table and the recursion in an explicit stack: a chain of thousands of
-- fragments costs memory, not the Lua stack.
function R.NoFragmentCycles(ctx)
  local visited, index_of, path = {}, {}, {}
  local function report(spread, from)
    local via = {}
    local nodes = {}
    for i = from, #path do
      nodes[#nodes + 1] = path[i]
      if i < #path then
        via[#via + 1] = '"' .. path[i].name .. '"'
      end
    end
    local tail = #via > 0 and " via " .. table.concat(via, ", ") .. "." or "."
    ctx:report(fmt('Cannot spread fragment "%s" within itself', spread.name) .. tail, nodes)
  end
  -- Starts the search at a fragment: a frame when it spreads anything.
  local function open(stack, frag)
    visited[frag.name] = true
    local spreads = ctx:fragment_spreads(frag.selectionSet)
    if #spreads > 0 then
      index_of[frag.name] = #path + 1
      stack[#stack + 1] = { name = frag.name, spreads = spreads, i = 0, pushed = false }
    end
  end
  local function detect(frag)
    if visited[frag.name] then
      return
    end
    local stack = {}
    open(stack, frag)
    while #stack > 0 do
      local frame = stack[#stack]
      if frame.pushed then
        path[#path] = nil
        frame.pushed = false
      end
      frame.i = frame.i + 1
      local spread = frame.spreads[frame.i]
      if not spread then
        index_of[frame.name] = nil
        stack[#stack] = nil
      else
        local cycle = index_of[spread.name]
        path[#path + 1] = spread
        frame.pushed = true
        if cycle then
          report(spread, cycle)
        else
          local target = ctx:fragment(spread.name)
          if target and not visited[target.name] then
            open(stack, target)
          end
        end
      end
    end
  end
  return {
    OperationDefinition = no_more,
    FragmentDefinition = function(node)
      detect(node)
      return false
    end,
  }
end

-- 5.8.1 Variable Uniqueness
function R.UniqueVariableNames(ctx)
  return {
    OperationDefinition = function(op)
      local order, groups = group_by(op.variableDefinitions, function(d)
        return d.variable.name
      end)
      for _, name in ipairs(order) do
        local defs = groups[name]
        if #defs > 1 then
          local locs = {}
          for i, d in ipairs(defs) do
            locs[i] = variable_name_loc(d.variable)
          end
          ctx:report(fmt('There can be only one variable named "$%s".', name), locs)
        end
      end
    end,
  }
end

-- 5.8.3 All Variable Uses Defined
function R.NoUndefinedVariables(ctx)
  return {
    ["OperationDefinition:leave"] = function(op)
      local defined = {}
      for _, d in ipairs(op.variableDefinitions or {}) do
        defined[d.variable.name] = true
      end
      for _, usage in ipairs(ctx:recursive_usages(op)) do
        local name = usage.node.name
        if not defined[name] then
          ctx:report(op.name
            and fmt('Variable "$%s" is not defined by operation "%s".', name, op.name)
            or fmt('Variable "$%s" is not defined.', name), { usage.node, op })
        end
      end
    end,
  }
end

-- 5.8.4 All Variables Used
function R.NoUnusedVariables(ctx)
  return {
    ["OperationDefinition:leave"] = function(op)
      local used = {}
      for _, usage in ipairs(ctx:recursive_usages(op)) do
        used[usage.node.name] = true
      end
      for _, d in ipairs(op.variableDefinitions or {}) do
        local name = d.variable.name
        if not used[name] then
          ctx:report(op.name
            and fmt('Variable "$%s" is never used in operation "%s".', name, op.name)
            or fmt('Variable "$%s" is never used.', name), { d })
        end
      end
    end,
  }
end


local function directive_location(ctx)
  local owner = ctx:ancestor(1)
  if not owner then
    return nil
  end
  if owner.kind == "OperationDefinition" then
    return (owner.operation or "query"):upper()
  elseif owner.kind == "InputValueDefinition" then
    local holder = ctx:ancestor(2)
    if holder and holder.kind:find("^InputObjectType") then
      return "INPUT_FIELD_DEFINITION"
    end
    return "ARGUMENT_DEFINITION"
  end
  return util.LOCATION[owner.kind]
end

-- The directives the document defines itself (SDL), beside the schema's.
local function document_directives(doc)
  local list = {}
  for _, def in ipairs(doc.definitions or {}) do
    if def.kind == "DirectiveDefinition" then
      list[#list + 1] = def
    end
  end
  return list
end

-- 5.7.1 Directives Are Defined (and 5.7.2 In Valid Locations)
function R.KnownDirectives(ctx)
  local locations = {}
  for name, d in pairs(ctx.schema.directives) do
    locations[name] = d.locations
  end
  for _, def in ipairs(document_directives(ctx.document)) do
    local set = {}
    for _, l in ipairs(def.locations or {}) do
      set[l] = true
    end
    locations[def.name] = set
  end
  return {
    Directive = function(node)
      local allowed = locations[node.name]
      if not allowed then
        ctx:report(fmt('Unknown directive "@%s".', node.name), { node })
        return
      end
      local where = directive_location(ctx)
      if where and not allowed[where] then
        ctx:report(fmt('Directive "@%s" may not be used on %s.', node.name, where), { node })
      end
    end,
  }
end

-- Type definitions and extensions: the directives of one type's definition and extensions
-- count together.
local TYPE_KINDS = {}
for _, k in ipairs({ "Scalar", "Object", "Interface", "Union", "Enum", "InputObject" }) do
  TYPE_KINDS[k .. "TypeDefinition"] = true
  TYPE_KINDS[k .. "TypeExtension"] = true
end

-- 5.7.3 Directives Are Unique Per Location
function R.UniqueDirectivesPerLocation(ctx)
  local unique = {}
  for name, d in pairs(ctx.schema.directives) do
    unique[name] = not d.repeatable
  end
  for _, def in ipairs(document_directives(ctx.document)) do
    unique[def.name] = not def.repeatable
  end
  local schema_seen, type_seen = {}, {}
  return {
    ["*"] = function(node)
      if not node.directives then
        return
      end
      local kind = node.kind
      local seen
      if kind == "SchemaDefinition" or kind == "SchemaExtension" then
        seen = schema_seen
      elseif TYPE_KINDS[kind] then
        seen = type_seen[node.name] or {}
        type_seen[node.name] = seen
      else
        seen = {}
      end
      for _, d in ipairs(node.directives) do
        if unique[d.name] then
          if seen[d.name] then
            ctx:report(fmt('The directive "@%s" can only be used once at this location.', d.name),
              { seen[d.name], d })
          else
            seen[d.name] = d
          end
        end
      end
    end,
  }
end

-- 5.4.1 Argument Names
function R.KnownArgumentNames(ctx)
  local known = {}
  for name, d in pairs(ctx.schema.directives) do
    local names = {}
    for i, a in ipairs(d.arg_list or {}) do
      names[i] = a.name
    end
    known[name] = names
  end
  for _, def in ipairs(document_directives(ctx.document)) do
    local names = {}
    for i, a in ipairs(def.arguments or {}) do
      names[i] = a.name
    end
    known[def.name] = names
  end
  return {
    Directive = function(node)
      local names = known[node.name]
      if names and node.arguments then
        local set = {}
        for _, n in ipairs(names) do
          set[n] = true
        end
        for _, arg in ipairs(node.arguments) do
          if not set[arg.name] then
            ctx:report(fmt('Unknown argument "%s" on directive "@%s".', arg.name, node.name)
              .. did_you_mean(suggestions(arg.name, names)), { arg })
          end
        end
      end
      return false
    end,
    Argument = function(node)
      local def, parent = ctx:field_def(), ctx:parent_type()
      if ctx:argument() or not def or not parent then
        return
      end
      local names = {}
      for i, a in ipairs(def.arg_list or {}) do
        names[i] = a.name
      end
      ctx:report(fmt('Unknown argument "%s" on field "%s.%s".', node.name, parent.name, def.name)
        .. did_you_mean(suggestions(node.name, names)), { node })
    end,
  }
end

-- 5.4.2 Argument Uniqueness
function R.UniqueArgumentNames(ctx)
  local function check(node)
    local order, groups = group_by(node.arguments, function(a)
      return a.name
    end)
    for _, name in ipairs(order) do
      if #groups[name] > 1 then
        ctx:report(fmt('There can be only one argument named "%s".', name), groups[name])
      end
    end
  end
  return { Field = check, Directive = check }
end

local function required(arg)
  return types.is_non_null(arg.type) and arg.default_value == nil
end

-- 5.4.2.1 Required Arguments
function R.ProvidedRequiredArguments(ctx)
  local required_of = {}
  for name, d in pairs(ctx.schema.directives) do
    local list = {}
    for _, a in ipairs(d.arg_list or {}) do
      if required(a) then
        list[#list + 1] = { name = a.name, text = types.string(a.type) }
      end
    end
    required_of[name] = list
  end
  for _, def in ipairs(document_directives(ctx.document)) do
    local list = {}
    for _, a in ipairs(def.arguments or {}) do
      if a.type.kind == "NonNullType" and not a.defaultValue then
        local t = types.from_ast(ctx.schema, a.type)
        list[#list + 1] = { name = a.name, text = t and types.string(t) or type_text(a.type) }
      end
    end
    required_of[def.name] = list
  end
  local function provided(node)
    local set = {}
    for _, a in ipairs(node.arguments or {}) do
      set[a.name] = true
    end
    return set
  end
  return {
    ["Field:leave"] = function(node)
      local def = ctx:field_def()
      if not def then
        return
      end
      local set = provided(node)
      for _, a in ipairs(def.arg_list or {}) do
        if not set[a.name] and required(a) then
          ctx:report(fmt('Field "%s" argument "%s" of type "%s" is required, but it was not '
            .. 'provided.', def.name, a.name, types.string(a.type)), { node })
        end
      end
    end,
    ["Directive:leave"] = function(node)
      local list = required_of[node.name]
      if not list then
        return
      end
      local set = provided(node)
      for _, a in ipairs(list) do
        if not set[a.name] then
          ctx:report(fmt('Directive "@%s" argument "%s" of type "%s" is required, but it was not '
            .. 'provided.', node.name, a.name, a.text), { node })
        end
      end
    end,
  }
end

-- graphql-js's allowedVariableUsage: a nullable variable may feed a non-null position when the
-- variable or the position has a default.
local function allowed_usage(schema, var_t, var_default, loc_t, loc_default)
  if types.is_non_null(loc_t) and not types.is_non_null(var_t) then
    local var_has = var_default ~= nil and var_default.kind ~= "NullValue"
    if not var_has and loc_default == nil then
      return false
    end
    return types.is_subtype(schema, var_t, loc_t.of_type)
  end
  return types.is_subtype(schema, var_t, loc_t)
end

-- 5.8.5 All Variable Usages Are Allowed (and a OneOf input object's fields take non-null
-- variables only)
function R.VariablesInAllowedPosition(ctx)
  local defs
  return {
    OperationDefinition = function()
      defs = {}
    end,
    VariableDefinition = function(node)
      defs[node.variable.name] = node
    end,
    ["OperationDefinition:leave"] = function(op)
      for _, usage in ipairs(ctx:recursive_usages(op)) do
        local name = usage.node.name
        local def = defs[name]
        if def and usage.type then
          local var_t = types.from_ast(ctx.schema, def.type)
          if var_t and not allowed_usage(ctx.schema, var_t, def.defaultValue, usage.type,
            usage.default_value) then
            ctx:report(fmt('Variable "$%s" of type "%s" used in position expecting type "%s".',
              name, types.string(var_t), types.string(usage.type)), { def, usage.node })
          end
          local parent = usage.parent_type
          if var_t and parent and parent.kind == "INPUT_OBJECT" and util.is_one_of(parent)
            and not types.is_non_null(var_t) then
            ctx:report(fmt('Variable "$%s" is of type "%s" but must be non-nullable to be used '
              .. 'for OneOf Input Object "%s".', name, types.string(var_t), parent.name),
              { def, usage.node })
          end
        end
      end
    end,
  }
end

-- 5.6.3 Input Object Field Uniqueness
function R.UniqueInputFieldNames(ctx)
  local stack, known = {}, {}
  return {
    ObjectValue = function()
      stack[#stack + 1] = known
      known = {}
    end,
    ["ObjectValue:leave"] = function()
      known = stack[#stack]
      stack[#stack] = nil
    end,
    ObjectField = function(node)
      local first = known[node.name]
      if first then
        ctx:report(fmt('There can be only one input field named "%s".', node.name),
          { first, node })
      else
        known[node.name] = node
      end
    end,
  }
end

-- The introspection fields that list types: nesting three of them is refused.
local INTROSPECTION_LISTS = { fields = true, interfaces = true, possibleTypes = true,
  inputFields = true }
local MAX_LISTS_DEPTH = 3

-- graphql-js's MaxIntrospectionDepthRule (one of its specifiedRules since 16.9): an
-- introspection query may nest the lists of types at most twice, the cheap guard against
-- introspection used to make a server work hard. Fragments are followed with an explicit
-- stack; what a fragment gave at an entry depth is remembered for later entries.
function R.MaxIntrospectionDepth(ctx)
  local checked, exceeded = {}, {}
  local EMPTY = {}

  local function too_deep(root)
    local visited = {}
    local stack = {}
    local function open(node, depth, frag)
      local set = node.selectionSet
      stack[#stack + 1] = { sels = set and set.selections or EMPTY, i = 0, depth = depth,
        frag = frag }
    end
    -- a limit reached: every fragment being checked reached it from its entry depth
    local function reached()
      for k = #stack, 1, -1 do
        local f = stack[k]
        if f.frag then
          exceeded[f.frag] = f.entry
        end
      end
      return true
    end
    open(root, 0)
    while #stack > 0 do
      local f = stack[#stack]
      f.i = f.i + 1
      local sel = f.sels[f.i]
      if not sel then
        stack[#stack] = nil
        if f.frag then
          checked[f.frag] = f.entry
        end
      elseif sel.kind == "FragmentSpread" then
        local name, depth = sel.name, f.depth
        if exceeded[name] and exceeded[name] <= depth then
          return reached()
        end
        local frag = ctx:fragment(name)
        if frag and not ((visited[name] and visited[name] >= depth)
          or (checked[name] and checked[name] >= depth)) then
          visited[name] = depth
          open(frag, depth, name)
          stack[#stack].entry = depth
        end
      elseif sel.kind == "Field" then
        local depth = f.depth
        if INTROSPECTION_LISTS[sel.name] then
          depth = depth + 1
          if depth >= MAX_LISTS_DEPTH then
            return reached()
          end
        end
        if sel.selectionSet then
          open(sel, depth)
        end
      else
        open(sel, f.depth)
      end
    end
    return false
  end

  return {
    Field = function(node)
      if (node.name == "__schema" or node.name == "__type") and too_deep(node) then
        ctx:report("Maximum introspection depth exceeded", { node })
        return false
      end
    end,
  }
end

return R
