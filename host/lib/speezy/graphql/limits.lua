-- speezy.graphql.limits — what a parsed document may cost, checked before it is validated or
-- run, so a hostile document is refused by a walk of its AST rather than by the work it asks.
--
--   local limits = require "speezy.graphql.limits"
--   local errs, uses_variables = limits.check(schema, document, variables, opts)
--   -- opts: { depth = 15, aliases = 30, complexity = 1000 } (the GRAPHQL_MAX_* settings)
--   -- errs: nil, or a list of GraphQL errors (extensions.code GRAPHQL_DEPTH_LIMIT,
--   --       GRAPHQL_ALIAS_LIMIT or GRAPHQL_COMPLEXITY_LIMIT)
--   -- uses_variables: the complexity read a variable (first: $n), so it depends on the request
--
-- Depth: fields nested in fields (`{ a { b } }` is 2), through fragments; inline fragments add
-- no level. Aliases: fields written with an alias, in the whole document. Complexity: 1 per
-- field; a field whose type is a list counts its selections once per item it may return: its
-- `first` or `last` argument (a literal or a variable of the request), else 10. Introspection
-- lists count once (graphql-js's getIntrospectionQuery() must fit), but their nesting is bounded
-- (fields inside types inside fields ...), as graphql-js' MaxIntrospectionDepthRule does.
--
-- The document is not validated yet: an unknown field costs 1 and its selections are counted
-- as if their type were unknown; a fragment cycle stops the walk (validation refuses it).
local M = {}

-- The list multiplier when a list field says nothing about its page size.
local LIST_DEFAULT = 10
-- How many introspection list fields may nest (graphql-js: 3 levels of fields, interfaces,
-- possibleTypes or inputFields).
local INTROSPECTION_LISTS = { fields = true, interfaces = true, possibleTypes = true,
  inputFields = true }
local MAX_INTROSPECTION_NESTING = 3

local function err(code, message, node)
  return { message = message,
    locations = node and node.line and { { line = node.line, column = node.column } } or nil,
    extensions = { code = code } }
end

-- The named type a field's type reference ends in, and whether it is a list at any level.
local function unwrap(ref)
  local list = false
  while ref and (ref.kind == "LIST" or ref.kind == "NON_NULL") do
    list = list or ref.kind == "LIST"
    ref = ref.of_type
  end
  return ref, list
end

local function field_def(schema, parent, name)
  if not parent then return nil end
  if name == "__schema" or name == "__type" then
    if schema and parent == schema.query then
      local t = schema.types and schema.types[name == "__schema" and "__Schema" or "__Type"]
      return { type = t, introspection = true }
    end
    return nil
  end
  local fields = parent.fields
  return fields and fields[name]
end

-- first/last of a list field: a literal Int, or the request's value of a variable.
local function page_size(field, variables, state)
  for _, arg in ipairs(field.arguments or {}) do
    if arg.name == "first" or arg.name == "last" then
      local v = arg.value
      if v.kind == "IntValue" then
        return tonumber(v.value) or LIST_DEFAULT
      elseif v.kind == "Variable" then
        state.uses_variables = true
        local n = variables and variables[v.name]
        if type(n) == "number" and n >= 0 then return n end
      end
    end
  end
  return LIST_DEFAULT
end

local function type_of_condition(schema, node, parent)
  local tc = node.typeCondition
  if tc and schema and schema.types then return schema.types[tc.name] end
  return parent
end

-- One walk computes the three measures of a selection set: its depth, its cost and the deepest
-- nesting of introspection lists in it. Fragments are walked once each (memo), so a document
-- that spreads a fragment many times costs its text, not its expansion, to measure.
local walk

local function walk_fragment(state, name, parent_type)
  local memo = state.memo[name]
  if memo then return memo[1], memo[2], memo[3] end
  local frag = state.fragments[name]
  if not frag or state.visiting[name] then return 0, 0, 0 end
  state.visiting[name] = true
  local d, c, n = walk(state, frag.selectionSet, type_of_condition(state.schema, frag, parent_type),
    false)
  state.visiting[name] = nil
  state.memo[name] = { d, c, n }
  return d, c, n
end

walk = function(state, set, parent_type, in_introspection)
  local depth, cost, nest = 0, 0, 0
  for _, sel in ipairs(set and set.selections or {}) do
    local kind = sel.kind
    local d, c, n = 0, 0, 0
    if kind == "Field" then
      local def = field_def(state.schema, parent_type, sel.name)
      local ftype, list = nil, false
      if def then ftype, list = unwrap(def.type) end
      -- introspection: below __schema or __type, or in a fragment on an introspection type
      local intro = in_introspection or (def and def.introspection)
        or (parent_type and type(parent_type.name) == "string"
          and parent_type.name:sub(1, 2) == "__") or false
      local cd, cc, cn = 0, 0, 0
      if sel.selectionSet then cd, cc, cn = walk(state, sel.selectionSet, ftype, intro) end
      d = cd + 1
      if list and not intro then
        c = 1 + page_size(sel, state.variables, state) * cc
      else
        c = 1 + cc
      end
      n = cn
      if intro and INTROSPECTION_LISTS[sel.name] then n = cn + 1 end
    elseif kind == "InlineFragment" then
      d, c, n = walk(state, sel.selectionSet, type_of_condition(state.schema, sel, parent_type),
        in_introspection)
    elseif kind == "FragmentSpread" then
      d, c, n = walk_fragment(state, sel.name, parent_type)
    end
    if d > depth then depth = d end
    if n > nest then nest = n end
    cost = cost + c
  end
  return depth, cost, nest
end

local function count_aliases(set, n)
  for _, sel in ipairs(set and set.selections or {}) do
    if sel.alias then n = n + 1 end
    if sel.selectionSet then n = count_aliases(sel.selectionSet, n) end
  end
  return n
end

local function root_type(schema, op)
  if not schema then return nil end
  if op.operation == "mutation" then return schema.mutation end
  if op.operation == "subscription" then return schema.subscription end
  return schema.query
end

function M.check(schema, document, variables, opts)
  local max_depth, max_aliases, max_cost = opts.depth, opts.aliases, opts.complexity
  local state = { schema = schema, variables = variables, fragments = {}, memo = {},
    visiting = {}, uses_variables = false }
  local aliases = 0
  for _, def in ipairs(document.definitions or {}) do
    if def.kind == "FragmentDefinition" then state.fragments[def.name] = def end
    if def.selectionSet then aliases = count_aliases(def.selectionSet, aliases) end
  end
  local errs = {}
  if aliases > max_aliases then
    errs[#errs + 1] = err("GRAPHQL_ALIAS_LIMIT", ("The document uses %d aliases, more than the "
      .. "%d allowed."):format(aliases, max_aliases))
  end
  for _, def in ipairs(document.definitions or {}) do
    if def.kind == "OperationDefinition" then
      local depth, cost, nest = walk(state, def.selectionSet, root_type(schema, def), false)
      local name = def.name and ("Operation '" .. def.name .. "'") or "The operation"
      if depth > max_depth then
        errs[#errs + 1] = err("GRAPHQL_DEPTH_LIMIT", ("%s has depth %d, more than the %d "
          .. "allowed."):format(name, depth, max_depth), def)
        end
      if nest > MAX_INTROSPECTION_NESTING then
        errs[#errs + 1] = err("GRAPHQL_DEPTH_LIMIT", ("%s nests introspection lists %d deep, "
          .. "more than the %d allowed."):format(name, nest, MAX_INTROSPECTION_NESTING), def)
      end
      if cost > max_cost then
        errs[#errs + 1] = err("GRAPHQL_COMPLEXITY_LIMIT", ("%s has complexity %s, more than "
          .. "the %d allowed."):format(name, cost >= 1e15 and "above 10^15"
          or ("%d"):format(cost), max_cost), def)
      end
    end
  end
  if #errs == 0 then return nil, state.uses_variables end
  return errs, state.uses_variables
end

return M
