-- speezy.graphql.validate_overlap: the rule OverlappingFieldsCanBeMerged (specification 5.3.2,
-- Field Selection Merging): two selections with one response name must be the same field with
-- the same arguments (unless their parents can never be the same object) and of types that can
-- merge, their subselections too. graphql-js 16's algorithm and messages.
--
-- Why it stays fast: fields are compared only with fields of the same response name (1,000
-- aliases of one field are 1,000 groups of one, nothing to compare), each selection set's
-- fields are collected once, and each pair of fragments (and each fields-and-fragment pair) is
-- compared once. Fragments are followed with explicit stacks, not recursion, so long chains
-- and cycles of fragments neither overflow nor loop.
local types = require "speezy.graphql.types"

local fmt = string.format

-- Nesting of merged subselections compared below one selection set: fragments can stack the
-- nesting past the document's own depth; beyond this the comparison stops (the depth limit
-- refuses such documents anyway).
local MAX_NESTING = 1000

-- graphql-js 16.15's bounds: comparisons past the budget abort the validation, and a
-- conflict's text and locations are cut short (a hostile document could make them huge).
local MAX_COMPLEXITY = 500000
local MAX_DETAIL = 1000
local MAX_NODES = 20
local NO_TYPE = {}

local function abbreviate(text)
  if #text > MAX_DETAIL then
    return text:sub(1, MAX_DETAIL) .. "..."
  end
  return text
end

-- An argument value as comparable text, object fields sorted (graphql-js compares the printed
-- values of sorted nodes). Strings are length-prefixed so no two values share a text.
local function canon(node)
  local kind = node.kind
  if kind == "Variable" then
    return "$" .. node.name
  elseif kind == "StringValue" then
    return (node.block and "B" or "S") .. #node.value .. ":" .. node.value
  elseif kind == "BooleanValue" then
    return node.value and "true" or "false"
  elseif kind == "NullValue" then
    return "null"
  elseif kind == "ListValue" then
    local parts = {}
    for i, v in ipairs(node.values or {}) do
      parts[i] = canon(v)
    end
    return "[" .. table.concat(parts, ",") .. "]"
  elseif kind == "ObjectValue" then
    local fields = {}
    for i, f in ipairs(node.fields or {}) do
      fields[i] = f
    end
    table.sort(fields, function(a, b)
      return a.name < b.name
    end)
    local parts = {}
    for i, f in ipairs(fields) do
      parts[i] = f.name .. ":" .. canon(f.value)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return kind:sub(1, 1) .. node.value -- Int, Float, Enum
end

return function(ctx)
  local schema = ctx.schema
  local budget = MAX_COMPLEXITY
  local by_parent = {}      -- parent type (or NO_TYPE) -> selection set -> collected fields
  local compared_frags = {} -- name -> name -> mutually exclusive
  local overlapping = setmetatable({}, { __mode = "k" }) -- map1 -> map2 -> shared names

  local function spend(cost)
    budget = budget - cost
    if budget < 0 then
      ctx:over_budget()
    end
  end

  local find_between_sets, find_conflict

  -- Fields by response name (map.order keeps their first appearance) and the fragment names
  -- a selection set spreads, its inline fragments' included.
  local function collect(parent, set, map, seen)
    for _, sel in ipairs(set.selections or {}) do
      local kind = sel.kind
      if kind == "Field" then
        local def
        if parent and (parent.kind == "OBJECT" or parent.kind == "INTERFACE") then
          def = parent.fields[sel.name]
        end
        local key = sel.alias or sel.name
        local list = map.by[key]
        if not list then
          list = {}
          map.by[key] = list
          map.order[#map.order + 1] = key
        end
        list[#list + 1] = { parent = parent, node = sel, def = def,
          simple_leaf = sel.arguments == nil and sel.selectionSet == nil }
      elseif kind == "FragmentSpread" then
        if not seen[sel.name] then
          seen[sel.name] = true
          map.fragments[#map.fragments + 1] = sel.name
        end
      else
        local t = parent
        if sel.typeCondition then
          t = types.from_ast(schema, sel.typeCondition)
        end
        collect(t, sel.selectionSet, map, seen)
      end
    end
  end

  local function fields_of(parent, set)
    local cache = by_parent[parent or NO_TYPE]
    if not cache then
      cache = {}
      by_parent[parent or NO_TYPE] = cache
    end
    local map = cache[set]
    if not map then
      map = { order = {}, by = {}, fragments = {}, compared = {} }
      collect(parent, set, map, {})
      cache[set] = map
    end
    return map
  end

  local function fields_of_fragment(frag)
    return fields_of(types.from_ast(schema, frag.typeCondition), frag.selectionSet)
  end

  -- graphql-js's PairSet: compared without exclusivity covers compared with it.
  local function frags_compared(a, b, exclusive)
    local row = compared_frags[a]
    local v = row and row[b]
    if v == nil then
      return false
    end
    return exclusive or v == false
  end

  local function frags_add(a, b, exclusive)
    compared_frags[a] = compared_frags[a] or {}
    compared_frags[a][b] = exclusive
    compared_frags[b] = compared_frags[b] or {}
    compared_frags[b][a] = exclusive
  end

  -- The response names two field maps share, worked out once per pair.
  local function shared_names(map1, map2)
    local row = overlapping[map1]
    if not row then
      row = setmetatable({}, { __mode = "k" })
      overlapping[map1] = row
    end
    local names = row[map2]
    if not names then
      names = {}
      for _, key in ipairs(map1.order) do
        spend(1)
        if map2.by[key] then
          names[#names + 1] = key
        end
      end
      row[map2] = names
    end
    return names
  end

  local function between(conflicts, exclusive, map1, map2, depth)
    if #map1.order == 0 or #map2.order == 0 then
      return
    end
    for _, key in ipairs(shared_names(map1, map2)) do
      local fields2 = map2.by[key]
      for _, f1 in ipairs(map1.by[key]) do
        for _, f2 in ipairs(fields2) do
          local c = find_conflict(exclusive, key, f1, f2, depth)
          if c then
            conflicts[#conflicts + 1] = c
          end
        end
      end
    end
  end

  local function within(conflicts, map, depth)
    for _, key in ipairs(map.order) do
      local fields = map.by[key]
      for i = 1, #fields - 1 do
        for j = i + 1, #fields do
          local c = find_conflict(false, key, fields[i], fields[j], depth)
          if c then
            conflicts[#conflicts + 1] = c
          end
        end
      end
    end
  end

  -- A field map against a fragment and every fragment it spreads, each once (per
  -- exclusivity), in graphql-js's depth-first order.
  local function between_fields_and_fragment(conflicts, exclusive, map, name, depth)
    local stack = { name }
    while #stack > 0 do
      local n = table.remove(stack)
      spend(1)
      if #map.order == 0 then
        return
      end
      local prior = map.compared[n]
      if not (prior == false or (exclusive and prior == true)) then
        map.compared[n] = exclusive
        local frag = ctx:fragment(n)
        if frag then
          local map2 = fields_of_fragment(frag)
          if map2 ~= map then
            between(conflicts, exclusive, map, map2, depth)
            for i = #map2.fragments, 1, -1 do
              stack[#stack + 1] = map2.fragments[i]
            end
          end
        end
      end
    end
  end

  -- Two fragments and the fragments each spreads, each pair once.
  local function between_fragments(conflicts, exclusive, name1, name2, depth)
    local stack = { name1, name2 }
    while #stack > 0 do
      local b = stack[#stack]
      local a = stack[#stack - 1]
      stack[#stack] = nil
      stack[#stack] = nil
      spend(2)
      if a ~= b and not frags_compared(a, b, exclusive) then
        frags_add(a, b, exclusive)
        local f1, f2 = ctx:fragment(a), ctx:fragment(b)
        if f1 and f2 then
          local map1, map2 = fields_of_fragment(f1), fields_of_fragment(f2)
          between(conflicts, exclusive, map1, map2, depth)
          -- popped in graphql-js's order: (a, each of b's), then (each of a's, b)
          for i = #map1.fragments, 1, -1 do
            stack[#stack + 1] = map1.fragments[i]
            stack[#stack + 1] = b
          end
          for i = #map2.fragments, 1, -1 do
            stack[#stack + 1] = a
            stack[#stack + 1] = map2.fragments[i]
          end
        end
      end
    end
  end

  local function find_within(parent, set)
    local conflicts = {}
    local map = fields_of(parent, set)
    within(conflicts, map, 0)
    local names = map.fragments
    if #names > 0 and (#map.order > 0 or #names > 1) then
      for i = 1, #names do
        between_fields_and_fragment(conflicts, false, map, names[i], 0)
        for j = i + 1, #names do
          between_fragments(conflicts, false, names[i], names[j], 0)
        end
      end
    end
    return conflicts
  end

  function find_between_sets(exclusive, parent1, set1, parent2, set2, depth)
    local conflicts = {}
    local map1, map2 = fields_of(parent1, set1), fields_of(parent2, set2)
    between(conflicts, exclusive, map1, map2, depth)
    for _, n2 in ipairs(map2.fragments) do
      between_fields_and_fragment(conflicts, exclusive, map1, n2, depth)
    end
    for _, n1 in ipairs(map1.fragments) do
      between_fields_and_fragment(conflicts, exclusive, map2, n1, depth)
    end
    for _, n1 in ipairs(map1.fragments) do
      for _, n2 in ipairs(map2.fragments) do
        between_fragments(conflicts, exclusive, n1, n2, depth)
      end
    end
    return conflicts
  end

  -- graphql-js's doTypesConflict: the shapes (list, non-null) must match, and leaves be equal.
  local function types_conflict(t1, t2)
    if t1 == t2 then
      return false
    end
    spend(1)
    if t1.kind == "LIST" then
      return t2.kind ~= "LIST" or types_conflict(t1.of_type, t2.of_type)
    elseif t2.kind == "LIST" then
      return true
    elseif t1.kind == "NON_NULL" then
      return t2.kind ~= "NON_NULL" or types_conflict(t1.of_type, t2.of_type)
    elseif t2.kind == "NON_NULL" then
      return true
    elseif types.is_leaf(t1) or types.is_leaf(t2) then
      return true -- t1 ~= t2 here
    end
    return false
  end

  local function same_arguments(a, b)
    local args1, args2 = a.arguments, b.arguments
    if not args1 then
      return args2 == nil
    end
    if not args2 or #args1 ~= #args2 then
      return false
    end
    local values2 = {}
    for _, arg in ipairs(args2) do
      values2[arg.name] = arg.value
    end
    for _, arg in ipairs(args1) do
      spend(1)
      local v2 = values2[arg.name]
      if not v2 or canon(arg.value) ~= canon(v2) then
        return false
      end
    end
    return true
  end

  -- The fields of a subfield conflict: the enclosing field, then the last of each conflict's
  -- until MAX_NODES.
  local function conflict_nodes(node, subs, side)
    local nodes = { node }
    for _, c in ipairs(subs) do
      local list = c[side]
      local from = math.max(1, #list - (MAX_NODES - #nodes) + 1)
      for i = from, #list do
        nodes[#nodes + 1] = list[i]
      end
      if #nodes == MAX_NODES then
        break
      end
    end
    return nodes
  end

  -- One pair of fields with one response name: nil, or { name, reason, nodes1, nodes2 }.
  function find_conflict(parent_exclusive, key, field1, field2, depth)
    ctx.fields_compared = (ctx.fields_compared or 0) + 1 -- how the spec sees the work done
    local node1, def1, node2, def2 = field1.node, field1.def, field2.node, field2.def
    local parent1, parent2 = field1.parent, field2.parent
    local exclusive = parent_exclusive
      or (parent1 ~= parent2 and parent1 ~= nil and parent2 ~= nil
        and parent1.kind == "OBJECT" and parent2.kind == "OBJECT")
    spend(2)
    local t1, t2 = def1 and def1.type, def2 and def2.type
    if field1.simple_leaf and field2.simple_leaf and t1 == t2 and node1.name == node2.name then
      return nil
    end
    if not exclusive then
      if node1.name ~= node2.name then
        return { key, fmt('"%s" and "%s" are different fields', abbreviate(node1.name),
          abbreviate(node2.name)), { node1 }, { node2 } }
      end
      if not same_arguments(node1, node2) then
        return { key, "they have differing arguments", { node1 }, { node2 } }
      end
    end
    if t1 and t2 and types_conflict(t1, t2) then
      return { key, fmt('they return conflicting types "%s" and "%s"', types.string(t1),
        types.string(t2)), { node1 }, { node2 } }
    end
    local set1, set2 = node1.selectionSet, node2.selectionSet
    if set1 and set2 and depth < MAX_NESTING then
      local subs = find_between_sets(exclusive, t1 and types.named(t1), set1,
        t2 and types.named(t2), set2, depth + 1)
      if #subs > 0 then
        local parts, len = {}, 0
        for _, c in ipairs(subs) do
          local part = fmt('subfields "%s" conflict because %s', abbreviate(c[1]), c[2])
          parts[#parts + 1] = part
          len = len + #part + (#parts > 1 and 5 or 0)
          if len > MAX_DETAIL then
            break
          end
        end
        return { key, abbreviate(table.concat(parts, " and ")),
          conflict_nodes(node1, subs, 3), conflict_nodes(node2, subs, 4) }
      end
    end
    return nil
  end

  return {
    SelectionSet = function(set)
      local owner = ctx:ancestor(1)
      local sels = set.selections or {}
      -- an inline fragment's fields are compared with its parent's; one field alone with
      -- nothing to meet
      if owner and owner.kind == "InlineFragment" then
        return
      end
      if #sels <= 1 and (sels[1] == nil or sels[1].kind ~= "InlineFragment") then
        return
      end
      for _, c in ipairs(find_within(ctx:parent_type(), set)) do
        local nodes = {}
        for _, n in ipairs(c[3]) do
          nodes[#nodes + 1] = n
        end
        for _, n in ipairs(c[4]) do
          nodes[#nodes + 1] = n
        end
        ctx:report(fmt('Fields "%s" conflict because %s. Use different aliases on the fields to '
          .. 'fetch both if this was intentional.', abbreviate(c[1]), c[2]), nodes)
      end
    end,
  }
end
