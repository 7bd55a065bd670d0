-- speezy.graphql.execute — the executor of #17: the specification's section 6 over the AST of
-- speezy.graphql.core and a schema of speezy.graphql.schema (/work/notes/gql-contract.md).
--
--   local r = execute.execute({ schema = s, document = doc, operation_name = name|nil,
--     variables = table|nil, context = ctx, root_value = nil })
--   -- r = { data = ordered JSON | json.null, errors = { ... } | nil }; a request error
--   -- (no operation, bad variables) gives { errors } without data
--   execute.operation(document, operation_name) -> op | nil, err
--
-- Results are json.ordered objects {k1, v1, k2, v2, ...}, so the answer lists fields in the
-- order the query asked for them.
--
-- How it runs. A plan is made once per (document, operation, values of the variables that
-- @skip/@include read) and kept on the document table: the fields a selection collects for a
-- runtime type (an "entry" per response key, with its definition and locations) are cached
-- on the entry of the field that owns the selection. Arguments are coerced per call (a
-- resolver may change its args). Execution goes breadth first, one level of objects at a
-- time: every resolver of the level is called before any of them is completed, so resolvers
-- that do I/O run concurrently (core.spawn / core.wait) and a loader sees all the keys of a
-- level in one batch. A default resolver (parent[name]) and a level's only resolver run inline.
--
-- Each object or list being built is a record { prev, key, slot, nullable, out }: the path of
-- an error is read from the records, and a null where a non-null is required walks them up
-- to the nearest nullable slot (6.4.4).
local json = require "speezy.json"
local core = require "speezy.core"
local values = require "speezy.graphql.values"
local types = require "speezy.graphql.types"

local M = {}

local NULL = json.null
local ORDERED_MT = json.ordered_mt
local ARRAY_MT = json.array_mt
local spawn, wait = core.spawn, core.wait

-- A resolver that raised: its slot holds this until completion turns it into null.
local FAILED = setmetatable({}, { __tostring = function() return "FAILED" end })

local INTERNAL = "INTERNAL_SERVER_ERROR"

-- Operation ------------------------------------------------------------------------------

local function request_error(message, node)
  return { message = message, extensions = { code = "BAD_USER_INPUT" },
           locations = node and { { line = node.line, column = node.column } } or nil }
end

-- The specification's GetOperation (6.1).
function M.operation(document, operation_name)
  local found
  for _, d in ipairs(document.definitions or {}) do
    if d.kind == "OperationDefinition" then
      if operation_name == nil then
        if found then
          return nil, request_error(
            "Must provide operation name if query contains multiple operations.")
        end
        found = d
      elseif d.name == operation_name then
        return d
      end
    end
  end
  if operation_name ~= nil then
    return nil, request_error('Unknown operation named "' .. tostring(operation_name) .. '".')
  end
  if not found then return nil, request_error("Must provide an operation.") end
  return found
end

-- Plans ----------------------------------------------------------------------------------

-- @skip / @include on a selection (6.3.2); a variable they read is a Boolean! already coerced.
local function included(node, vars)
  local dirs = node.directives
  if not dirs then return true end
  for i = 1, #dirs do
    local d = dirs[i]
    local name = d.name
    if name == "skip" or name == "include" then
      local arg = d.arguments and d.arguments[1]
      local v = arg and arg.value
      local on
      if v == nil then
        on = false
      elseif v.kind == "Variable" then
        on = vars[v.name] == true
      else
        on = v.value == true
      end
      if (name == "skip") == on then return false end
    end
  end
  return true
end

-- The variables @skip/@include read anywhere in the document: the plan depends on their values.
local function condition_variables(doc)
  local names, seen = {}, {}
  local function walk(set)
    if not set then return end
    for _, sel in ipairs(set.selections or {}) do
      for _, d in ipairs(sel.directives or {}) do
        if d.name == "skip" or d.name == "include" then
          for _, a in ipairs(d.arguments or {}) do
            if a.value.kind == "Variable" and not seen[a.value.name] then
              seen[a.value.name] = true
              names[#names + 1] = a.value.name
            end
          end
        end
      end
      walk(sel.selectionSet)
    end
  end
  for _, d in ipairs(doc.definitions or {}) do walk(d.selectionSet) end
  return names
end

local function fragment_applies(schema, T, cond)
  if not cond then return true end
  local C = schema.types[cond.name]
  if C == T then return true end
  return C ~= nil and C.possible ~= nil and C.possible[T.name] == true
end

-- CollectFields (6.3.2) into entries / by_key.
local function collect_into(plan, T, set, entries, by_key, visited, vars)
  local sels = set.selections or {}
  for i = 1, #sels do
    local sel = sels[i]
    if included(sel, vars) then
      local kind = sel.kind
      if kind == "Field" then
        local key = sel.alias or sel.name
        local e = by_key[key]
        if e then
          e.nodes[#e.nodes + 1] = sel
        else
          e = { key = key, name = sel.name, nodes = { sel } }
          by_key[key] = e
          entries[#entries + 1] = e
        end
      elseif kind == "InlineFragment" then
        if fragment_applies(plan.schema, T, sel.typeCondition) then
          collect_into(plan, T, sel.selectionSet, entries, by_key, visited, vars)
        end
      elseif kind == "FragmentSpread" and not visited[sel.name] then
        visited[sel.name] = true
        local frag = plan.fragments[sel.name]
        if frag and fragment_applies(plan.schema, T, frag.typeCondition) then
          collect_into(plan, T, frag.selectionSet, entries, by_key, visited, vars)
        end
      end
    end
  end
end

local function unwrap(R)
  local nn = R.kind == "NON_NULL"
  return nn and R.of_type or R, nn
end

-- An entry's definition and locations; nil for a field the type does not have
-- (validation refuses it; graphql-js leaves it out of the answer).
local function finish_entry(plan, T, e)
  local nodes = e.nodes
  local locs = {}
  for i = 1, #nodes do locs[i] = { line = nodes[i].line, column = nodes[i].column } end
  e.locations = locs
  e.node = nodes[1]
  if e.name == "__typename" then
    e.typename = true
    return e
  end
  local def = T.fields and T.fields[e.name]
  local schema = plan.schema
  if not def and T == schema.query and schema.meta then def = schema.meta[e.name] end
  if not def then return nil end
  e.def = def
  e.resolve = def.resolve
  e.type, e.non_null = unwrap(def.type)
  e.rtype = def.type
  e.has_args = def.arg_list ~= nil and #def.arg_list > 0
  if e.type.kind ~= "SCALAR" and e.type.kind ~= "ENUM" then e.sub = {} end
  return e
end

local function collect(plan, T, nodes, vars)
  local entries, by_key, visited = {}, {}, {}
  for i = 1, #nodes do
    local set = nodes[i].selectionSet
    if set then collect_into(plan, T, set, entries, by_key, visited, vars) end
  end
  local out = {}
  for i = 1, #entries do
    local e = finish_entry(plan, T, entries[i])
    if e then out[#out + 1] = e end
  end
  return out
end

-- At most this many plans per operation (2^n for n condition variables): past it, plans
-- are made per request and not kept.
local MAX_PLANS = 16

local function plan_of(schema, doc, op, vars)
  local c = rawget(doc, "_execute")
  if c == nil or c.schema ~= schema then
    local fragments = {}
    for _, d in ipairs(doc.definitions or {}) do
      if d.kind == "FragmentDefinition" then fragments[d.name] = d end
    end
    c = { schema = schema, fragments = fragments, conditions = condition_variables(doc),
          ops = {} }
    rawset(doc, "_execute", c)
  end
  local sig = ""
  local conditions = c.conditions
  if #conditions > 0 then
    local bits = {}
    for i = 1, #conditions do bits[i] = vars[conditions[i]] == true and "1" or "0" end
    sig = table.concat(bits)
  end
  local plans = c.ops[op]
  if not plans then
    plans = { n = 0 }
    c.ops[op] = plans
  end
  local plan = plans[sig]
  if plan then return plan end
  local root_type = schema[op.operation]
  plan = { schema = schema, fragments = c.fragments }
  plan.root = collect(plan, root_type, { op }, vars)
  if plans.n < MAX_PLANS then
    plans.n = plans.n + 1
    plans[sig] = plan
  end
  return plan
end

-- The entries of a field's selection for one runtime type, kept on the field's entry.
-- entries.flat: every field reads its parent (no resolver, no arguments) and is a leaf, so
-- an object of them completes at once, without a level of its own (complete_flat).
local function sub_entries(exe, e, T)
  local sub = e.sub
  local entries = sub[T]
  if not entries then
    entries = collect(exe.plan, T, e.nodes, exe.vars)
    local flat = true
    for i = 1, #entries do
      local x = entries[i]
      if not x.typename and (x.resolve ~= nil or x.sub ~= nil) then flat = false end
    end
    entries.flat = flat
    sub[T] = entries
  end
  return entries
end

-- Errors -------------------------------------------------------------------------------------

local function path_of(rec, key)
  local rev = { key }
  while rec do
    if rec.key ~= nil then rev[#rev + 1] = rec.key end
    rec = rec.prev
  end
  local n = #rev
  local path = {}
  for i = 1, n do path[i] = rev[n + 1 - i] end
  return path
end

-- exe.errors is made by the first error: most answers have none.
local function push_error(exe, err)
  local errors = exe.errors
  if not errors then
    errors = {}
    exe.errors = errors
  end
  errors[#errors + 1] = err
end

local function add_error(exe, e, rec, key, message, extensions)
  push_error(exe, { message = message, locations = e.locations, path = path_of(rec, key),
                    extensions = extensions })
end

local function request_id(ctx)
  if type(ctx) ~= "table" then return nil end
  local id = rawget(ctx, "request_id")
  if id == nil then
    local req = rawget(ctx, "req")
    if type(req) == "table" then id = req.id end
  end
  return id ~= nil and tostring(id) or nil
end

-- A resolver's raise: speezy.app's HttpError (app.raise) is an answer for the client; anything
-- else is a bug whose text stays in the log.
local function resolver_error(exe, e, rec, key, err)
  if type(err) == "table" and type(err.code) == "string" and type(err.message) == "string"
    and type(err.status) == "number" then
    return add_error(exe, e, rec, key, err.message, { code = err.code, details = err.details })
  end
  local path = table.concat(path_of(rec, key), ".")
  local text = type(err) == "table" and tostring(err.code) .. ": " .. tostring(err.message)
    or tostring(err)
  core.log("error", "graphql resolver error at " .. path .. ": " .. text, request_id(exe.ctx))
  add_error(exe, e, rec, key, "Internal server error", { code = INTERNAL })
end

-- Null propagation (6.4.4): rec's value is null; set it in its parent's slot when that slot
-- is nullable, else the parent becomes null in turn. The root: data is null.
local function nullify(exe, rec)
  exe.any_dead = true
  while not rec.dead do
    rec.dead = true
    local p = rec.prev
    if not p then
      exe.data_null = true
      return
    end
    if rec.nullable then
      p.out[rec.slot] = NULL
      return
    end
    rec = p
  end
end

local function alive(rec)
  while rec do
    if rec.dead then return false end
    rec = rec.prev
  end
  return true
end

-- Resolving ----------------------------------------------------------------------------------

local Info = {}
Info.__index = function(t, k)
  local e, rec, exe = rawget(t, "_e"), rawget(t, "_rec"), rawget(t, "_exe")
  local v
  if k == "field_name" then
    v = e.name
  elseif k == "field_nodes" then
    v = e.nodes
  elseif k == "return_type" then
    v = e.rtype
  elseif k == "parent_type" then
    v = rec.T
  elseif k == "path" then
    v = path_of(rec, e.key)
  elseif k == "schema" then
    v = exe.schema
  elseif k == "fragments" then
    v = exe.plan.fragments
  elseif k == "root_value" then
    v = exe.root_value
  elseif k == "operation" then
    v = exe.operation
  elseif k == "variable_values" then
    v = exe.vars
  end
  return v
end

local function with_traceback(err)
  if type(err) == "table" then return err end
  return debug.traceback(tostring(err), 2)
end

-- The args of a field without arguments: shared, so nobody may write in it.
local NO_ARGS = setmetatable({}, {
  __newindex = function() error("graphql: a field's args are read-only", 2) end,
})

-- Coerced per call, as 6.4.1 says: a resolver may change its args without the next call or
-- the next request (the plan is shared) seeing it.
local function args_of(exe, e)
  if not e.has_args then return NO_ARGS end
  return values.coerce_argument_values(e.def, e.node, exe.vars)
end

-- Calls the i-th entry's resolver on rec's value; its result (or FAILED) goes in the slot.
local function call_resolver(exe, rec, i)
  local e = rec.entries[i]
  local args, err = args_of(exe, e)
  if not args then
    push_error(exe, { message = err.message, locations = err.locations,
                      path = path_of(rec, e.key), extensions = err.extensions })
    rec.out[2 * i] = FAILED
    return
  end
  local info = setmetatable({ _e = e, _rec = rec, _exe = exe }, Info)
  local ok, v, err2 = xpcall(e.resolve, with_traceback, rec.value, args, exe.ctx, info)
  -- `return nil, err` (what pg, redis and most of speezy answer on failure) is a raise of err
  if ok and (v ~= nil or err2 == nil) then
    rec.out[2 * i] = v
  else
    resolver_error(exe, e, rec, e.key, ok and err2 or v)
    rec.out[2 * i] = FAILED
  end
end

-- The first phase of a field: its raw value in the slot, now or (a resolver) in `pending`.
-- A resolver its definition marks `sync` (it never yields: introspection's, a computed
-- field) runs at once, sparing a thread.
local function resolve_field(exe, rec, i, pending)
  local e = rec.entries[i]
  local out = rec.out
  if e.typename then
    out[2 * i] = rec.T.name
  elseif e.resolve == nil then
    local parent = rec.value
    if type(parent) == "table" then
      out[2 * i] = parent[e.name]
    else
      out[2 * i] = nil
    end
  elseif e.def.sync then
    call_resolver(exe, rec, i)
  else
    local n = pending.n + 1
    pending.n = n
    pending[2 * n - 1] = rec
    pending[2 * n] = i
  end
end

local function run_pending(exe, pending)
  local n = pending.n
  if n == 0 then return end
  if n == 1 or not spawn then
    for k = 1, n do call_resolver(exe, pending[2 * k - 1], pending[2 * k]) end
    return
  end
  local threads = {}
  for k = 1, n do threads[k] = spawn(call_resolver, exe, pending[2 * k - 1], pending[2 * k]) end
  for k = 1, n do
    local ok, err = wait(threads[k])
    if not ok then -- the executor's own failure inside the thread
      local rec, i = pending[2 * k - 1], pending[2 * k]
      resolver_error(exe, rec.entries[i], rec, rec.entries[i].key, err)
      rec.out[2 * i] = FAILED
    end
  end
end

-- Completing ---------------------------------------------------------------------------------

local complete

local function new_out(entries)
  local out = {}
  for i = 1, #entries do
    out[2 * i - 1] = entries[i].key
    out[2 * i] = NULL
  end
  return setmetatable(out, ORDERED_MT)
end

-- A field error while completing slot of rec: the slot is null, and so is rec when the slot
-- is non-null.
local function fail(exe, e, rec, key, slot, non_null, message)
  add_error(exe, e, rec, key, message, { code = INTERNAL })
  rec.out[slot] = NULL
  if non_null then nullify(exe, rec) end
end

local function field_label(rec, e)
  local T = rec.T
  if not T then -- a list: its owner object holds the field
    local p = rec.prev
    while p and not p.T do p = p.prev end
    T = p and p.T
  end
  return (T and T.name or "?") .. "." .. e.name
end

local function resolve_runtime_type(exe, R, v, e, rec)
  local name
  if R.resolve_type then
    local info = setmetatable({ _e = e, _rec = rec, _exe = exe }, Info)
    local ok, r = xpcall(R.resolve_type, with_traceback, v, exe.ctx, info)
    if not ok then return nil, r, true end
    name = r
  else
    for _, P in ipairs(R.possible_types or {}) do
      if P.is_type_of then
        local info = setmetatable({ _e = e, _rec = rec, _exe = exe }, Info)
        local ok, r = xpcall(P.is_type_of, with_traceback, v, exe.ctx, info)
        if not ok then return nil, r, true end
        if r then
          name = P.name
          break
        end
      end
    end
    if name == nil and type(v) == "table" then name = v.__typename end
  end
  if type(name) == "table" then name = name.name end
  if type(name) ~= "string" then
    return nil, 'Abstract type "' .. R.name .. '" must resolve to an Object type at runtime for ' ..
      'field "' .. field_label(rec, e) .. '". Either the "' .. R.name .. '" type should ' ..
      'provide a "resolveType" function or each possible type should provide an "isTypeOf" ' ..
      "function."
  end
  local T = exe.schema.types[name]
  if not T then
    return nil, 'Abstract type "' .. R.name .. '" was resolved to a type "' .. name ..
      '" that does not exist inside the schema.'
  end
  if T.kind ~= "OBJECT" then
    return nil, 'Abstract type "' .. R.name .. '" was resolved to a non-object type "' ..
      name .. '".'
  end
  if not (R.possible and R.possible[name]) then
    return nil, 'Runtime Object type "' .. name .. '" is not a possible type for "' ..
      R.name .. '".'
  end
  return T
end

local function serialize(R, v)
  if R.kind == "ENUM" then
    if type(v) == "string" and R.values[v] then return v end
    return nil, 'Enum "' .. R.name .. '" cannot represent value: ' .. types.inspect(v)
  end
  local fn = R.serialize
  if not fn then return v end
  if R.builtin then -- ours never raise; a string is already a String's and an ID's answer
    if type(v) == "string" and (R.name == "String" or R.name == "ID") then return v end
    return fn(v)
  end
  local ok, r, msg = pcall(fn, v)
  if not ok then
    return nil, type(r) == "table" and tostring(r.message) or tostring(r)
  end
  if r == nil then
    return nil, msg or ("Expected `" .. R.name .. ".serialize(" .. types.inspect(v) ..
      ")` to return non-nullable value, returned: null")
  end
  return r
end

-- A flat object (sub_entries) of value v completed at once; nil when one of its fields needs
-- the general path (a null where a non-null is required, a value its scalar refuses), which
-- reads the fields again and reports it.
local function complete_flat(T, entries, v)
  local out = {}
  for i = 1, #entries do
    local e = entries[i]
    local s
    if e.typename then
      s = T.name
    else
      local fv = v[e.name]
      if fv == nil or fv == NULL then
        if e.non_null then return nil end
        s = NULL
      else
        s = serialize(e.type, fv)
        if s == nil then return nil end
      end
    end
    out[2 * i - 1] = e.key
    out[2 * i] = s
  end
  return setmetatable(out, ORDERED_MT)
end

-- CompleteValue (6.4.3) of v, of type R (unwrapped; non_null says whether it was wrapped),
-- into rec.out[slot]; key is the slot's name in paths.
complete = function(exe, R, non_null, e, v, rec, key, slot)
  if v == nil or v == NULL or v == FAILED then
    if v ~= FAILED and non_null then
      add_error(exe, e, rec, key, "Cannot return null for non-nullable field " ..
        field_label(rec, e) .. ".", { code = INTERNAL })
    end
    rec.out[slot] = NULL
    if non_null then nullify(exe, rec) end
    return
  end
  local kind = R.kind
  if kind == "SCALAR" or kind == "ENUM" then
    local s, msg = serialize(R, v)
    if s == nil then return fail(exe, e, rec, key, slot, non_null, msg) end
    rec.out[slot] = s
    return
  end
  if kind == "LIST" then
    if type(v) ~= "table" then
      return fail(exe, e, rec, key, slot, non_null, 'Expected Iterable, but did not find ' ..
        'one for field "' .. field_label(rec, e) .. '".')
    end
    local out = setmetatable({}, ARRAY_MT)
    local lrec = { prev = rec, key = key, slot = slot, nullable = not non_null, out = out }
    rec.out[slot] = out
    local item_type, item_nn = unwrap(R.of_type)
    for j = 1, #v do
      complete(exe, item_type, item_nn, e, v[j], lrec, j - 1, j)
      if lrec.dead then return end
    end
    return
  end
  local T = R
  if kind ~= "OBJECT" then
    local err, raised
    T, err, raised = resolve_runtime_type(exe, R, v, e, rec)
    if not T then
      if raised then
        resolver_error(exe, e, rec, key, err)
        rec.out[slot] = NULL
        if non_null then nullify(exe, rec) end
        return
      end
      return fail(exe, e, rec, key, slot, non_null, err)
    end
  end
  if T.is_type_of then
    local info = setmetatable({ _e = e, _rec = rec, _exe = exe }, Info)
    local ok, r = xpcall(T.is_type_of, with_traceback, v, exe.ctx, info)
    if not ok then
      resolver_error(exe, e, rec, key, r)
      rec.out[slot] = NULL
      if non_null then nullify(exe, rec) end
      return
    end
    if not r then
      return fail(exe, e, rec, key, slot, non_null, 'Expected value of type "' .. T.name ..
        '" but got: ' .. types.inspect(v) .. ".")
    end
  end
  local entries = sub_entries(exe, e, T)
  if entries.flat and type(v) == "table" then
    local flat = complete_flat(T, entries, v)
    if flat then
      rec.out[slot] = flat
      return
    end
  end
  local out = new_out(entries)
  rec.out[slot] = out
  local nxt = exe.next
  if not nxt then
    nxt = {}
    exe.next = nxt
  end
  nxt[#nxt + 1] = { prev = rec, key = key, slot = slot, nullable = not non_null, out = out,
                    T = T, entries = entries, value = v }
end

local function complete_field(exe, rec, i)
  local e = rec.entries[i]
  if e.typename then return end
  complete(exe, e.type, e.non_null, e, rec.out[2 * i], rec, e.key, 2 * i)
end

-- One level: every field of every object resolved, then completed; the objects the
-- completions found are the next level.
local function run_level(exe, level)
  local pending = exe.pending
  pending.n = 0
  local live = level
  if exe.any_dead then
    live = {}
    for _, rec in ipairs(level) do
      if alive(rec) then live[#live + 1] = rec end
    end
  end
  for r = 1, #live do
    local rec = live[r]
    for i = 1, #rec.entries do resolve_field(exe, rec, i, pending) end
  end
  run_pending(exe, pending)
  for r = 1, #live do
    local rec = live[r]
    -- an object whose list or parent a sibling nulled meanwhile adds no second error
    if not exe.any_dead or alive(rec) then
      for i = 1, #rec.entries do
        if rec.dead then break end
        complete_field(exe, rec, i)
      end
    end
  end
end

local NO_LEVEL = {}

local function run_levels(exe, level)
  while #level > 0 do
    exe.next = nil -- the objects this level completes, made on the first
    run_level(exe, level)
    level = exe.next or NO_LEVEL
  end
end

-- Mutations (6.2.2): each root field, with everything under it, before the next one starts.
local function run_serially(exe, root)
  for i = 1, #root.entries do
    if root.dead then return end
    local pending = exe.pending
    pending.n = 0
    exe.next = nil
    resolve_field(exe, root, i, pending)
    run_pending(exe, pending)
    complete_field(exe, root, i)
    run_levels(exe, exe.next or NO_LEVEL)
  end
end

function M.execute(p)
  local schema, doc = p.schema, p.document
  local op, err = M.operation(doc, p.operation_name)
  if not op then return { errors = { err } } end
  local root_type = schema[op.operation]
  if not root_type then
    return { errors = { request_error("Schema is not configured to execute " .. op.operation ..
      " operation.", op) } }
  end
  local vars, errs = values.coerce_variable_values(schema, op, p.variables)
  if not vars then return { errors = errs } end
  local plan = plan_of(schema, doc, op, vars)
  local exe = { schema = schema, plan = plan, vars = vars, ctx = p.context, operation = op,
                root_value = p.root_value, errors = nil, next = nil, pending = { n = 0 } }
  local root = { out = new_out(plan.root), T = root_type, entries = plan.root,
                 value = p.root_value }
  if op.operation == "mutation" then
    run_serially(exe, root)
  else
    run_levels(exe, { root })
  end
  local result = { data = exe.data_null and NULL or root.out }
  result.errors = exe.errors
  return result
end

return M
