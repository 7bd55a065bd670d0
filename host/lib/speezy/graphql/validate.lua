-- speezy.graphql.validate: checks an executable document against a schema (the specification's
-- section 5) with every rule of graphql-js 16's specifiedRules, in its order, with its
-- messages and locations, so clients and tools see the errors they already know.
--
--   local validate = require "speezy.graphql.validate"
--   local errors = validate.validate(schema, document[, rules])   -- {} when valid
--   validate.rules.ScalarLeafs                                    -- one rule, by name
--
-- A rule is a function(ctx) returning a visitor: { Field = fn(node), ["Field:leave"] = fn,
-- ["*"] = fn for every node }. One walk of the document feeds every rule: the walker keeps
-- what graphql-js calls TypeInfo (output type, parent type, field, directive, argument and
-- input type at the node) and gives each node to the rules watching its kind, in the rules'
-- order; an enter that returns false hides the node's subtree from that rule only. Errors
-- stop at 100 (the walk is aborted), as graphql-js does. Work that fragments can multiply
-- (following spreads, comparing fields) is metered as in graphql-js 16.15: past its budget the
-- walk stops with "Validation aborted.", so a hostile document costs a bounded time.
local types = require "speezy.graphql.types"
local util = require "speezy.graphql.util"

local M = {}

local MAX_ERRORS = 100
local FRAGMENT_WORK = 50000 -- graphql-js's budget for following fragment spreads
local CODE = "GRAPHQL_VALIDATION_FAILED"
local TOO_MANY, OVER_BUDGET = {}, {}

-- The children of each kind in graphql-js's visiting order (names are plain strings and have
-- no node; leaves such as Variable and NamedType have no entry). Descriptions are left out:
-- the specification says they do not affect validation.
local type_def = { "interfaces", "directives", "fields" }
local CHILDREN = {
  Document = { "definitions" },
  OperationDefinition = { "variableDefinitions", "directives", "selectionSet" },
  VariableDefinition = { "variable", "type", "defaultValue", "directives" },
  SelectionSet = { "selections" },
  Field = { "arguments", "directives", "selectionSet" },
  Argument = { "value" },
  FragmentSpread = { "directives" },
  InlineFragment = { "typeCondition", "directives", "selectionSet" },
  FragmentDefinition = { "variableDefinitions", "typeCondition", "directives", "selectionSet" },
  ListValue = { "values" },
  ObjectValue = { "fields" },
  ObjectField = { "value" },
  Directive = { "arguments" },
  ListType = { "type" },
  NonNullType = { "type" },
  SchemaDefinition = { "directives", "operationTypes" },
  SchemaExtension = { "directives", "operationTypes" },
  OperationTypeDefinition = { "type" },
  ScalarTypeDefinition = { "directives" },
  ScalarTypeExtension = { "directives" },
  ObjectTypeDefinition = type_def,
  ObjectTypeExtension = type_def,
  InterfaceTypeDefinition = type_def,
  InterfaceTypeExtension = type_def,
  FieldDefinition = { "arguments", "type", "directives" },
  InputValueDefinition = { "type", "defaultValue", "directives" },
  UnionTypeDefinition = { "directives", "types" },
  UnionTypeExtension = { "directives", "types" },
  EnumTypeDefinition = { "directives", "values" },
  EnumTypeExtension = { "directives", "values" },
  EnumValueDefinition = { "directives" },
  InputObjectTypeDefinition = { "directives", "fields" },
  InputObjectTypeExtension = { "directives", "fields" },
  DirectiveDefinition = { "arguments" },
}

M.EXECUTABLE = { OperationDefinition = true, FragmentDefinition = true }

-- __schema, __type and __typename: fields of no type's field list, found by name.
local meta_cache = setmetatable({}, { __mode = "k" })
local function meta_fields(schema)
  local meta = meta_cache[schema]
  if not meta then
    local t = schema.types
    meta = {}
    -- introspection's types exist once speezy.graphql.load has added them
    if t.__Schema then
      meta.__schema = { name = "__schema", type = types.non_null(t.__Schema), args = {},
        arg_list = {} }
    end
    if t.__Type then
      local name = { name = "name", type = types.non_null(t.String) }
      meta.__type = { name = "__type", type = t.__Type, args = { name = name },
        arg_list = { name } }
    end
    meta.__typename = { name = "__typename", type = types.non_null(t.String), args = {},
      arg_list = {} }
    meta_cache[schema] = meta
  end
  return meta
end

-- graphql-js's getFieldDef: the field a selection names on a parent type, meta fields included.
function M.field_def(schema, parent, name)
  if name == "__schema" or name == "__type" then
    if parent == schema.query then
      return meta_fields(schema)[name]
    end
  elseif name == "__typename" then
    if types.is_composite(parent) then
      return meta_fields(schema).__typename
    end
  end
  return parent.fields and parent.fields[name]
end

local Context = {}
Context.__index = Context

function Context:report(message, nodes)
  local locations
  if nodes and #nodes > 0 then
    locations = {}
    for i, n in ipairs(nodes) do
      locations[i] = { line = n.line, column = n.column }
    end
  end
  local errors = self.errors
  if #errors >= MAX_ERRORS then
    error(TOO_MANY, 0)
  end
  errors[#errors + 1] = { message = message, locations = locations, extensions = { code = CODE } }
end

-- Spends from the validation's budget for work that fragments multiply; the rules call it
-- where graphql-js does, so both give up on the same documents.
function Context:spend(cost)
  self.fragment_work = self.fragment_work - cost
  if self.fragment_work < 0 then
    error(OVER_BUDGET, 0)
  end
end

-- Stops the validation as over budget (the overlap rule keeps its own budget).
function Context.over_budget(_)
  error(OVER_BUDGET, 0)
end

function Context:type()
  return self.type_stack[self.n_type]
end

function Context:parent_type()
  return self.parent_stack[self.n_parent]
end

function Context:input_type()
  return self.input_stack[self.n_input]
end

function Context:parent_input_type()
  return self.input_stack[self.n_input - 1]
end

function Context:field_def()
  return self.field_stack[self.n_field]
end

function Context:default_value()
  return self.default_stack[self.n_default]
end

function Context:directive()
  return self.cur_directive
end

function Context:argument()
  return self.cur_argument
end

-- The node k levels above the one being visited (1: its parent).
function Context:ancestor(k)
  return self.path[#self.path - k]
end

-- Whether the node being visited is inside a type system definition (SDL).
function Context:in_sdl()
  local def = self.path[2]
  return def ~= nil and not M.EXECUTABLE[def.kind]
end

function Context:fragment(name)
  return self.fragments[name]
end

-- The fragment spreads of a selection set, nested fields and inline fragments included
-- (graphql-js's getFragmentSpreads, same order).
function Context:fragment_spreads(set)
  local spreads = self.spreads_cache[set]
  if spreads then
    return spreads
  end
  spreads = {}
  local todo = { set }
  while #todo > 0 do
    local s = table.remove(todo)
    for _, sel in ipairs(s.selections or {}) do
      if sel.kind == "FragmentSpread" then
        spreads[#spreads + 1] = sel
      elseif sel.selectionSet then
        todo[#todo + 1] = sel.selectionSet
      end
    end
  end
  self.spreads_cache[set] = spreads
  return spreads
end

-- Every fragment the operations reach through spreads, once each, breadth first, without
-- recursion (graphql-js's getRecursivelyReferencedFragmentsForOperations, same order, same
-- cost). Cached by the set of fragment names the operations spread themselves.
function Context:recursive_fragments_for(ops)
  local names, seen = {}, {}
  for _, op in ipairs(ops) do
    for _, spread in ipairs(self:fragment_spreads(op.selectionSet)) do
      if not seen[spread.name] then
        seen[spread.name] = true
        names[#names + 1] = spread.name
      end
    end
  end
  local sorted = { unpack(names) }
  table.sort(sorted)
  local key = table.concat(sorted, "\0")
  local found = self.reach_cache[key]
  if found then
    return found
  end
  found = {}
  self:spend(#names)
  local i = 1
  while i <= #names do
    local frag = self.fragments[names[i]]
    if frag then
      found[#found + 1] = frag
      local spreads = self:fragment_spreads(frag.selectionSet)
      self:spend(#spreads)
      for _, spread in ipairs(spreads) do
        if not seen[spread.name] then
          seen[spread.name] = true
          names[#names + 1] = spread.name
        end
      end
    end
    i = i + 1
  end
  self.reach_cache[key] = found
  return found
end

function Context:recursive_fragments(op)
  return self:recursive_fragments_for({ op })
end

-- The variables a definition uses outside its variable definitions: { node, type,
-- default_value, parent_type } each (graphql-js's getVariableUsages): a walk of its own, so
-- a fragment defined after the operation is known when the operation ends.
local walk
function Context:usages_of(def)
  local usages = self.usages[def]
  if usages then
    return usages
  end
  -- one walker for all the definitions, sharing this validation's fragments
  local sub = self.usage_walker
  if not sub then
    sub = M.new_context(self.schema, self.document, self.fragments)
    sub.visitors = { {
      VariableDefinition = function()
        return false
      end,
      Variable = function(node)
        local list = sub.found
        list[#list + 1] = { node = node, type = sub:input_type(),
          default_value = sub:default_value(), parent_type = sub:parent_input_type() }
      end,
    } }
    sub.path[1] = self.document
    self.usage_walker = sub
  end
  usages = {}
  sub.found = usages
  walk(sub, def)
  self.usages[def] = usages
  return usages
end

-- The variables an operation uses, its fragments' included (graphql-js's
-- getRecursiveVariableUsages, same order, same cost).
function Context:recursive_usages(op)
  local all = self.all_usages[op]
  if all then
    return all
  end
  local frags = self:recursive_fragments(op)
  local of_frags = self.frag_usages[frags]
  if not of_frags then
    self:spend(#frags)
    of_frags = {}
    for _, frag in ipairs(frags) do
      local own = self:usages_of(frag)
      self:spend(#own)
      for _, u in ipairs(own) do
        of_frags[#of_frags + 1] = u
      end
    end
    self.frag_usages[frags] = of_frags
  end
  self:spend(#of_frags)
  all = { unpack(self:usages_of(op)) }
  for _, u in ipairs(of_frags) do
    all[#all + 1] = u
  end
  self.all_usages[op] = all
  return all
end

-- The rules' visitors, per node kind, in the rules' order: { rule index, fn, ... }.
local function handlers(ctx, kind, suffix)
  local cache = suffix and ctx.leave_cache or ctx.enter_cache
  local list = cache[kind]
  if list then
    return list
  end
  list = {}
  for i, v in ipairs(ctx.visitors) do
    local fn = v[suffix and kind .. suffix or kind] or (not suffix and v["*"]) or nil
    if fn then
      list[#list + 1] = i
      list[#list + 1] = fn
    end
  end
  cache[kind] = list
  return list
end

local function push(ctx, stack, counter, v)
  local n = ctx[counter] + 1
  ctx[counter] = n
  ctx[stack][n] = v
end

local function pop(ctx, stack, counter)
  local n = ctx[counter]
  ctx[stack][n] = nil
  ctx[counter] = n - 1
end

local function input_or_nil(t)
  if t and types.is_input(t) then
    return t
  end
  return nil
end

-- TypeInfo: what a node changes in the context on the way in.
local function enter_type_info(ctx, node)
  local kind, schema = node.kind, ctx.schema
  if kind == "SelectionSet" then
    local named = ctx:type() and types.named(ctx:type())
    push(ctx, "parent_stack", "n_parent", named and types.is_composite(named) and named or nil)
  elseif kind == "Field" then
    local parent, def = ctx:parent_type(), nil
    if parent then
      def = M.field_def(schema, parent, node.name)
    end
    push(ctx, "field_stack", "n_field", def)
    local t = def and def.type
    push(ctx, "type_stack", "n_type", t and types.is_output(t) and t or nil)
  elseif kind == "Directive" then
    ctx.cur_directive = schema.directives[node.name]
  elseif kind == "OperationDefinition" then
    local t = schema[node.operation or "query"]
    push(ctx, "type_stack", "n_type", t and t.kind == "OBJECT" and t or nil)
  elseif kind == "InlineFragment" or kind == "FragmentDefinition" then
    local t
    if node.typeCondition then
      t = types.from_ast(schema, node.typeCondition)
    else
      t = ctx:type() and types.named(ctx:type())
    end
    push(ctx, "type_stack", "n_type", t and types.is_output(t) and t or nil)
  elseif kind == "VariableDefinition" then
    push(ctx, "input_stack", "n_input", input_or_nil(types.from_ast(schema, node.type)))
  elseif kind == "Argument" then
    local owner = ctx.cur_directive or ctx:field_def()
    local def = owner and owner.args and owner.args[node.name]
    ctx.cur_argument = def
    push(ctx, "default_stack", "n_default", def and def.default_value)
    push(ctx, "input_stack", "n_input", input_or_nil(def and def.type))
  elseif kind == "ListValue" then
    local t = ctx:input_type() and types.nullable(ctx:input_type())
    local item = t and (types.is_list(t) and t.of_type or t)
    push(ctx, "default_stack", "n_default", nil)
    push(ctx, "input_stack", "n_input", input_or_nil(item))
  elseif kind == "ObjectField" then
    local t = ctx:input_type() and types.named(ctx:input_type())
    local field = t and t.kind == "INPUT_OBJECT" and t.input_fields[node.name] or nil
    push(ctx, "default_stack", "n_default", field and field.default_value)
    push(ctx, "input_stack", "n_input", input_or_nil(field and field.type))
  end
end

local function leave_type_info(ctx, node)
  local kind = node.kind
  if kind == "SelectionSet" then
    pop(ctx, "parent_stack", "n_parent")
  elseif kind == "Field" then
    pop(ctx, "field_stack", "n_field")
    pop(ctx, "type_stack", "n_type")
  elseif kind == "Directive" then
    ctx.cur_directive = nil
  elseif kind == "OperationDefinition" or kind == "InlineFragment"
    or kind == "FragmentDefinition" then
    pop(ctx, "type_stack", "n_type")
  elseif kind == "VariableDefinition" then
    pop(ctx, "input_stack", "n_input")
  elseif kind == "Argument" then
    ctx.cur_argument = nil
    pop(ctx, "default_stack", "n_default")
    pop(ctx, "input_stack", "n_input")
  elseif kind == "ListValue" or kind == "ObjectField" then
    pop(ctx, "default_stack", "n_default")
    pop(ctx, "input_stack", "n_input")
  end
end

-- The walk's depth is the document's, which the parser bounds (max_depth).
function walk(ctx, node)
  local kind = node.kind
  local path = ctx.path
  path[#path + 1] = node
  enter_type_info(ctx, node)
  local skipping = ctx.skipping
  local list = handlers(ctx, kind)
  for i = 1, #list, 2 do
    local r = list[i]
    if not skipping[r] and list[i + 1](node) == false then
      skipping[r] = node
    end
  end
  local children = CHILDREN[kind]
  if children then
    for _, key in ipairs(children) do
      local child = node[key]
      if type(child) == "table" then
        if child.kind then
          walk(ctx, child)
        else
          for _, c in ipairs(child) do
            if type(c) == "table" then
              walk(ctx, c)
            end
          end
        end
      end
    end
  end
  list = handlers(ctx, kind, ":leave")
  for i = 1, #list, 2 do
    if not skipping[list[i]] then
      list[i + 1](node)
    end
  end
  for r, n in pairs(skipping) do
    if n == node then
      skipping[r] = nil
    end
  end
  leave_type_info(ctx, node)
  path[#path] = nil
end

function M.new_context(schema, document, fragments)
  local ctx = setmetatable({
    schema = schema, document = document, errors = {}, fragments = {},
    fragment_work = FRAGMENT_WORK,
    type_stack = {}, n_type = 0, parent_stack = {}, n_parent = 0, input_stack = {}, n_input = 0,
    field_stack = {}, n_field = 0, default_stack = {}, n_default = 0,
    path = {}, skipping = {}, usages = {}, all_usages = {}, frag_usages = {},
    spreads_cache = {}, reach_cache = {},
    enter_cache = {}, leave_cache = {},
  }, Context)
  if fragments then
    ctx.fragments = fragments
    return ctx
  end
  for _, def in ipairs(document.definitions or {}) do
    if def.kind == "FragmentDefinition" then
      ctx.fragments[def.name] = def -- the last of a name wins, as in graphql-js
    end
  end
  return ctx
end

function M.validate(schema, document, rules)
  local ctx = M.new_context(schema, document)
  local visitors = {}
  for i, rule in ipairs(rules or M.specified_rules) do
    visitors[i] = rule(ctx)
  end
  ctx.visitors = visitors
  local root = document
  local ok, err = pcall(function()
    local list = handlers(ctx, "Document")
    for i = 1, #list, 2 do
      if list[i + 1](root) == false then
        ctx.skipping[list[i]] = root
      end
    end
    ctx.path[1] = root
    for _, def in ipairs(root.definitions or {}) do
      walk(ctx, def)
    end
    list = handlers(ctx, "Document", ":leave")
    for i = 1, #list, 2 do
      if ctx.skipping[list[i]] ~= root then
        list[i + 1](root)
      end
    end
  end)
  local errors = ctx.errors
  if err == TOO_MANY then
    errors[#errors + 1] = {
      message = "Too many validation errors, error limit reached. Validation aborted.",
      extensions = { code = CODE },
    }
  elseif err == OVER_BUDGET then
    errors[#errors + 1] = { message = "Validation aborted.", extensions = { code = CODE } }
  elseif not ok then
    error(err, 0)
  end
  return errors
end

local rules = require "speezy.graphql.validate_rules"
rules.ValuesOfCorrectType = require "speezy.graphql.validate_values"
rules.OverlappingFieldsCanBeMerged = require "speezy.graphql.validate_overlap"

M.rules = rules
M.rule_names = {
  "ExecutableDefinitions", "UniqueOperationNames", "LoneAnonymousOperation",
  "SingleFieldSubscriptions", "KnownTypeNames", "FragmentsOnCompositeTypes",
  "VariablesAreInputTypes", "ScalarLeafs", "FieldsOnCorrectType", "UniqueFragmentNames",
  "KnownFragmentNames", "NoUnusedFragments", "PossibleFragmentSpreads", "NoFragmentCycles",
  "UniqueVariableNames", "NoUndefinedVariables", "NoUnusedVariables", "KnownDirectives",
  "UniqueDirectivesPerLocation", "KnownArgumentNames", "UniqueArgumentNames",
  "ValuesOfCorrectType", "ProvidedRequiredArguments", "VariablesInAllowedPosition",
  "OverlappingFieldsCanBeMerged", "UniqueInputFieldNames", "MaxIntrospectionDepth",
}
M.specified_rules = {}
for i, name in ipairs(M.rule_names) do
  M.specified_rules[i] = assert(rules[name], name)
end
M.util = util

return M
