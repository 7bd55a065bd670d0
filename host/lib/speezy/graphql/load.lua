-- speezy.graphql.load — a generation's GraphQL schema: the SDL of scripts/graphql/*.graphql
-- and the resolver maps of scripts/graphql/*.lua, bound together while the scripts load.
--
--   load.boot(files, require_script, dir)   (speezy.runtime, after app.lua ran)
--     files: the generation's snapshot (relative path -> text); without graphql/*.graphql
--     nor graphql/*.lua there is no schema. Raises "file:line[:column]: message" (each
--     problem on its own line) when the schema cannot serve, so the reload is refused and the
--     old generation keeps serving.
--   load.build(sources, maps[, opts]) -> schema | nil, errors
--     sources = { { file, text }, ... } (in order), maps = { { file, map }, ... }; errors are
--     { message, file, line, column }. opts.introspection: passed to introspection.add.
--   load.current() -> this generation's schema or nil (one VM per generation: the module's
--     state is the generation's).
--
-- A resolver map:
--   { Query = { hello = function(parent, args, ctx, info) ... end },   -- a field's resolver
--     Store = { owner = fn, __isTypeOf = fn },                          -- is_type_of
--     Node = { __resolveType = fn },            -- interface or union: value -> type name
--     DateTime = { serialize = fn, parse_value = fn, parse_literal = fn } }  -- custom scalar
-- Refused: an entry for a type or field the schema lacks (at the entry's file:line), a field
-- given twice, a root field (Query, Mutation, Subscription) without a resolver (other fields
-- read parent[name]), an interface or union with neither __resolveType nor __isTypeOf on
-- every member, a custom scalar without its three functions. A resolver given on an
-- interface's field serves the object types that implement it without one of their own.
--
-- Role checks: the SDL's `directive @auth(roles: [Role!]) on FIELD_DEFINITION | OBJECT` on a
-- field wraps its resolver: without ctx.user the field errors UNAUTHENTICATED, with a role
-- outside roles FORBIDDEN; no roles: any signed-in user. A field without its own @auth takes
-- its object type's and that of the same field on each interface the type implements (all
-- of them must pass: a type that forgot to repeat its interface's rule does not lose it).
-- ctx.user is { id, role, sid } as speezy.auth gives req.user.
local M = {}

local current

function M.current()
  return current
end

local ROOTS = { "query", "mutation", "subscription" }
local SCALAR_FNS = { "serialize", "parse_value", "parse_literal" }

-- Where a resolver map entry was written: the line its function starts on, else the map's file.
local function where(value, file)
  local fn = value
  if type(value) == "table" then
    fn = nil
    for _, v in pairs(value) do
      if type(v) == "function" then
        local info = debug.getinfo(v, "S")
        if not fn or info.linedefined < debug.getinfo(fn, "S").linedefined then fn = v end
      end
    end
  end
  if type(fn) == "function" then
    local info = debug.getinfo(fn, "S")
    if info.source:sub(1, 1) == "@" and info.linedefined > 0 then
      return { file = info.source:sub(2), line = info.linedefined }
    end
  end
  return { file = file }
end

local function add(errors, message, at)
  errors[#errors + 1] = { message = message, file = at.file, line = at.line, column = at.column }
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local KIND_WORD = { ENUM = "an enum", INPUT_OBJECT = "an input object", SCALAR = "a scalar",
  OBJECT = "an object type", INTERFACE = "an interface", UNION = "a union" }

-- One type's entry of a map onto the schema; bound[T][key] remembers who gave what.
local function bind_type(errors, t, entry, file, bound)
  local name = t.name
  if type(entry) ~= "table" then
    add(errors, "resolver map: " .. name .. " must be a table of functions, got " .. type(entry),
      where(entry, file))
    return
  end
  bound[t] = bound[t] or {}
  for _, key in ipairs(sorted_keys(entry)) do
    local fn, at = entry[key], where(entry[key], file)
    local what = name .. "." .. tostring(key)
    local ok = true
    if type(fn) ~= "function" then
      add(errors, "resolver map: " .. what .. " must be a function, got " .. type(fn), where(entry,
        file))
      ok = false
    elseif t.kind == "SCALAR" then
      if key ~= "serialize" and key ~= "parse_value" and key ~= "parse_literal" then
        add(errors, "resolver map: " .. what .. ": a scalar takes serialize, parse_value and " ..
          "parse_literal only", at)
        ok = false
      end
    elseif key == "__resolveType" then
      if t.kind ~= "INTERFACE" and t.kind ~= "UNION" then
        add(errors, "resolver map: " .. what .. ": " .. name .. " is " .. KIND_WORD[t.kind] ..
          ", only an interface or a union resolves its type", at)
        ok = false
      end
    elseif key == "__isTypeOf" then
      if t.kind ~= "OBJECT" then
        add(errors, "resolver map: " .. what .. ": " .. name .. " is " .. KIND_WORD[t.kind] ..
          ", only an object type has __isTypeOf", at)
        ok = false
      end
    elseif t.kind == "OBJECT" or t.kind == "INTERFACE" then
      if not (t.fields and t.fields[key]) then
        add(errors, "resolver map: " .. name .. " has no field " .. tostring(key) ..
          " in the schema", at)
        ok = false
      end
    else
      add(errors, "resolver map: " .. what .. ": " .. name .. " is " .. KIND_WORD[t.kind] ..
        " and takes no resolvers", at)
      ok = false
    end
    if ok then
      local before = bound[t][key]
      if before then
        add(errors, "resolver map: " .. what .. " is given twice (also at " .. before.file ..
          (before.line and ":" .. before.line or "") .. ")", at)
      else
        bound[t][key] = at
        if key == "__resolveType" then
          t.resolve_type = fn
        elseif key == "__isTypeOf" then
          t.is_type_of = fn
        elseif t.kind == "SCALAR" then
          t[key] = fn
        else
          t.fields[key].resolve = fn
        end
      end
    end
  end
end

-- What the schema cannot serve without: resolvers of root fields, abstract types' type
-- resolution, custom scalars' coercions.
local BUILTIN_SCALARS = { Int = true, Float = true, String = true, Boolean = true, ID = true }

local function requirements(errors, schema, bound)
  for _, op in ipairs(ROOTS) do
    local root = schema[op]
    for _, f in ipairs(root and root.field_list or {}) do
      if not f.resolve then
        add(errors, root.name .. "." .. f.name .. " has no resolver: a root field needs one in " ..
          "a resolver map (" .. root.name .. " = { " .. f.name ..
          " = function(parent, args, ctx, info) ... end })", f)
      end
    end
  end
  for _, t in ipairs(schema.type_list) do
    if (t.kind == "INTERFACE" or t.kind == "UNION") and not t.resolve_type then
      local missing = {}
      for _, m in ipairs(t.possible_types or {}) do
        if not m.is_type_of then missing[#missing + 1] = m.name end
      end
      if #missing > 0 then
        add(errors, t.name .. " (" .. t.kind:lower() .. ") needs __resolveType in a resolver " ..
          "map, or __isTypeOf on each of its object types" ..
          " (missing on " .. table.concat(missing, ", ") .. ")", t)
      end
    elseif t.kind == "SCALAR" and not t.builtin and not BUILTIN_SCALARS[t.name] then
      local given, missing = bound[t] or {}, {}
      for _, key in ipairs(SCALAR_FNS) do
        if not given[key] then missing[#missing + 1] = key end
      end
      if #missing > 0 then
        add(errors, "scalar " .. t.name .. " needs serialize, parse_value and parse_literal in " ..
          "a resolver map (missing: " .. table.concat(missing, ", ") .. ")", t)
      end
    end
  end
end

-- Object types take the resolvers of their interfaces' fields they do not resolve themselves.
local function inherit(schema)
  for _, t in ipairs(schema.type_list) do
    if t.kind == "OBJECT" then
      for _, iface in ipairs(t.interfaces or {}) do
        for _, f in ipairs(iface.field_list or {}) do
          local own = t.fields[f.name]
          if own and not own.resolve and f.resolve then own.resolve = f.resolve end
        end
      end
    end
  end
end

----------------------------------------------------------------------------------------------
-- @auth
----------------------------------------------------------------------------------------------

local function directive(node, name)
  for _, d in ipairs(node and node.directives or {}) do
    if d.name == name then return d end
  end
end

-- The roles of an @auth use: a set, or false for "any signed-in user"; nil, message if bad.
local function auth_roles(d, role_type)
  local value
  for _, a in ipairs(d.arguments or {}) do
    if a.name == "roles" then value = a.value end
  end
  if not value or value.kind == "NullValue" then return false end
  local items = value.kind == "ListValue" and (value.values or {}) or { value }
  local set, list = {}, {}
  for _, v in ipairs(items) do
    if v.kind ~= "EnumValue" then return nil, "@auth(roles:) takes role names" end
    if role_type and role_type.values and not role_type.values[v.value] then
      return nil, "@auth(roles:): " .. v.value .. " is not a value of " .. role_type.name
    end
    set[v.value] = true
    list[#list + 1] = v.value
  end
  if #list == 0 then return false end
  set[1] = table.concat(list, ", ")
  return set
end

local function default_resolve(name)
  return function(parent, args, ctx, info)
    if type(parent) ~= "table" then return nil end
    local v = parent[name]
    if type(v) == "function" then return v(parent, args, ctx, info) end
    return v
  end
end

local function guard(resolve, roles, what)
  local app = require "speezy.app"
  return function(parent, args, ctx, info)
    local user = ctx and ctx.user
    if not user then app.raise(401, "UNAUTHENTICATED", "Authentication required") end
    if roles and not roles[user.role] then
      app.raise(403, "FORBIDDEN", what .. " is for " .. roles[1])
    end
    return resolve(parent, args, ctx, info)
  end
end

-- The @auth uses that guard field f of object type t (see the top of the file).
local function auth_uses(t, f)
  local own = directive(f, "auth")
  if own then return { own } end
  local uses = { directive(t, "auth") }
  for _, iface in ipairs(t.interfaces or {}) do
    uses[#uses + 1] = directive(iface.fields[f.name], "auth")
  end
  return uses
end

local function apply_auth(errors, schema)
  local decl = schema.directives and schema.directives.auth
  if not decl then return end
  local roles_arg = decl.args and decl.args.roles
  local role_type = roles_arg and require("speezy.graphql.types").named(roles_arg.type)
  for _, t in ipairs(schema.type_list) do
    if t.kind == "OBJECT" and not t.builtin then
      for _, f in ipairs(t.field_list or {}) do
        for _, d in ipairs(auth_uses(t, f)) do
          local roles, bad = auth_roles(d, role_type)
          if roles == nil then
            add(errors, t.name .. "." .. f.name .. ": " .. bad, d.file and d or f)
          else
            f.resolve = guard(f.resolve or default_resolve(f.name), roles or nil,
              t.name .. "." .. f.name)
          end
        end
      end
    end
  end
end

----------------------------------------------------------------------------------------------

function M.build(sources, maps, opts)
  local gschema = require "speezy.graphql.schema"
  local schema, errors = gschema.build(sources)
  if not schema or (errors and #errors > 0) then return nil, errors end
  errors = {}
  local bound = {}
  for _, m in ipairs(maps) do
    for _, name in ipairs(sorted_keys(m.map)) do
      local t = type(name) == "string" and schema.types[name]
      if t and t.builtin then
        add(errors, "resolver map: " .. name .. " is built in, its coercions are the " ..
          "specification's", where(m.map[name], m.file))
      elseif not t then
        add(errors, "resolver map: the schema has no type " .. tostring(name),
          where(m.map[name], m.file))
      else
        bind_type(errors, t, m.map[name], m.file, bound)
      end
    end
  end
  inherit(schema)
  requirements(errors, schema, bound)
  apply_auth(errors, schema)
  if #errors > 0 then return nil, errors end
  require("speezy.graphql.introspection").add(schema, { enabled = opts and opts.introspection })
  return schema
end

local function format(errors)
  local lines = {}
  for i, e in ipairs(errors) do
    local at = e.file or "?"
    if e.line then at = at .. ":" .. e.line end
    if e.line and e.column then at = at .. ":" .. e.column end
    lines[i] = at .. ": " .. e.message
  end
  return table.concat(lines, "\n")
end
M.format = format

function M.boot(files, require_script, dir)
  current = nil
  local sources, modules = {}, {}
  for path in pairs(files) do
    local sdl = path:match("^graphql/[^/]+%.graphql$")
    local mod = path:match("^graphql/([^/.]+)%.lua$")
    if sdl then sources[#sources + 1] = path end
    if mod then modules[#modules + 1] = mod end
  end
  if #sources == 0 and #modules == 0 then return nil end
  if #sources == 0 then
    error(dir .. "/graphql/: resolver maps but no schema (graphql/*.graphql)", 0)
  end
  table.sort(sources)
  table.sort(modules)
  for i, path in ipairs(sources) do
    sources[i] = { file = dir .. "/" .. path, text = files[path] }
  end
  local maps = {}
  for _, mod in ipairs(modules) do
    local file = dir .. "/graphql/" .. mod .. ".lua"
    local map = require_script("graphql." .. mod)
    if type(map) ~= "table" then
      error(file .. ": must return a resolver map (a table), got " .. type(map), 0)
    end
    maps[#maps + 1] = { file = file, map = map }
  end
  local schema, errors = M.build(sources, maps)
  if not schema then error(format(errors or {}), 0) end
  current = schema
  return schema
end

return M
