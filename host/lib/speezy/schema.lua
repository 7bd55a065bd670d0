-- speezy.schema — declarative validation of JSON bodies, query strings and path params.
--
-- A definition is JSON Schema vocabulary written as a plain Lua table, so the OpenAPI 3.1
-- document publishes it almost as written:
--
--   local schema = require "speezy.schema"
--   local s = schema.compile({ type = "object", required = { "name" }, properties = {
--     name = { type = "string", minLength = 1, maxLength = 120 },
--     code = { type = "string", pattern = "^[0-9]{6}$" } } }, "body")
--   local value, details = s:validate(v[, { coerce = true }])
--   s:json_schema()   -- the JSON Schema 2020-12 (= OpenAPI 3.1) form, a fresh table
--
-- compile checks the definition once and raises (speezy.misuse: the script's file:line) on a
-- mistake, naming where in the definition it is; unknown keywords are refused, so a typo never
-- silently turns a rule off. It turns the definition into closures: validate walks the value,
-- never the definition, and builds no string unless something fails.
--
-- validate fills defaults and coerced values into v itself and returns it; on failure it
-- returns nil and every failure at once: { field = "address.latitude", rule = "maximum",
-- message = "must be at most 90" }. field is "" for the root, "tags[0]" for an array item
-- (counted from 0, as the client's JSON counts). README "Schemas" is the full contract.
local json = require "speezy.json"
local misuse = require "speezy.misuse"
local regex = require "speezy.regex"

local M = {}

local NULL = json.null
local ARRAY_MT = json.array_mt
local utf8_length = regex.utf8_length
local type, next, pairs, ipairs, tostring, tonumber = type, next, pairs, ipairs, tostring, tonumber
local getmetatable, setmetatable, rawget = getmetatable, setmetatable, rawget
local concat, floor, huge = table.concat, math.floor, math.huge
-- Integers beyond 2^53 are not exact in a double (nor in a JavaScript client): refused.
local MAX_SAFE = 2 ^ 53 - 1

local Compiled = {}
Compiled.__index = Compiled

-- One validation's state. validate runs no script code and never yields, so one run at a time
-- per Lua state: module-level scratch costs no allocation per call.
local errs      -- nil until the first failure, then the list of details
local keys = {} -- the path from the root to the value being checked: names and indexes
local depth = 0
local coerce = false

local function field_name()
  local parts = {}
  for i = 1, depth do
    local k = keys[i]
    if type(k) == "number" then
      parts[i] = "[" .. k .. "]"
    elseif i == 1 then
      parts[i] = tostring(k)
    else
      parts[i] = "." .. tostring(k)
    end
  end
  return concat(parts)
end

local function fail(rule, message)
  if not errs then errs = setmetatable({}, ARRAY_MT) end
  errs[#errs + 1] = { field = field_name(), rule = rule, message = message }
end

local function is_array(v)
  local mt = getmetatable(v)
  return mt == ARRAY_MT or (mt == nil and rawget(v, 1) ~= nil)
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return setmetatable(out, getmetatable(v))
end

-- Definition checks -------------------------------------------------------------------------

local function at(path, key)
  if path == "" then return tostring(key) end
  return path .. "." .. tostring(key)
end

local function refuse(path, msg)
  misuse.raise("schema", (path == "" and "" or path .. " ") .. msg)
end

local TYPES = { string = true, integer = true, number = true, boolean = true, object = true,
                array = true }
local TYPE_LIST = "string, integer, number, boolean, object, array"
-- Keywords every type takes (description and the like are for the OpenAPI document only).
local COMMON = { type = true, nullable = true, enum = true, default = true, description = true,
                 title = true, example = true, examples = true, deprecated = true }
local KEYWORDS = {
  string = { minLength = true, maxLength = true, pattern = true },
  integer = { minimum = true, maximum = true, exclusiveMinimum = true, exclusiveMaximum = true },
  number = { minimum = true, maximum = true, exclusiveMinimum = true, exclusiveMaximum = true },
  boolean = {},
  object = { properties = true, required = true, additionalProperties = true },
  array = { items = true, minItems = true, maxItems = true },
}
local ARTICLE = { string = "a string", integer = "an integer", number = "a number",
                  boolean = "a boolean", object = "an object", array = "an array" }

local function is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function count(path, def, key)
  local v = def[key]
  if v == nil then return nil end
  if type(v) ~= "number" or v < 0 or v ~= floor(v) or v == huge then
    refuse(at(path, key), "must be a non-negative integer")
  end
  return v
end

local function bound(path, def, key)
  local v = def[key]
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= v or v == huge or v == -huge then
    refuse(at(path, key), "must be a number")
  end
  return v
end

local function plural(n, one, many)
  return tostring(n) .. " " .. (n == 1 and one or many)
end

local compile_node

-- Scalars an enum may list for a type (objects and arrays are refused: compare by equality).
local function enum_member_ok(t, x, nullable)
  if x == NULL then return nullable end
  if t == "integer" then return type(x) == "number" and x == floor(x) end
  if t == "number" then return type(x) == "number" and x == x end
  return type(x) == t
end

local function enum_set(path, def, t)
  local list = def.enum
  if list == nil then return nil end
  if not is_list(list) or #list == 0 then refuse(at(path, "enum"), "must be a non-empty list") end
  local set, words = {}, {}
  for i, x in ipairs(list) do
    if not enum_member_ok(t, x, def.nullable) then
      refuse(at(path, "enum") .. "[" .. (i - 1) .. "]", "must be " .. ARTICLE[t] ..
        (def.nullable and " or null" or ""))
    end
    set[x] = true
    words[i] = x == NULL and "null" or tostring(x)
  end
  return set, "must be one of " .. concat(words, ", ")
end

-- Type checkers: each returns the value (coerced when asked), and calls fail() on a failure.

local NUMBER_TEXT = "^%-?%d+%.?%d*[eE]?[+-]?%d*$"

-- The number a query or path string spells as JSON would, or nil ("nan", "inf", "0x10", " 1"
-- and "" are not numbers).
local function text_number(s)
  if not s:find(NUMBER_TEXT) then return nil end
  return tonumber(s)
end

local function string_check(def, path, nullable)
  local min_len, max_len = count(path, def, "minLength"), count(path, def, "maxLength")
  if min_len and max_len and min_len > max_len then
    refuse(at(path, "minLength"), "must not be greater than maxLength")
  end
  local pattern, re = def.pattern, nil
  if pattern ~= nil then
    if type(pattern) ~= "string" then refuse(at(path, "pattern"), "must be a string") end
    local err
    re, err = regex.compile(pattern)
    if not re then
      refuse(at(path, "pattern"), "is not a valid regular expression: " .. err.message)
    end
  end
  local enum, enum_msg = enum_set(path, def, "string")
  local type_msg = "must be a string" .. (nullable and " or null" or "")
  local min_msg = min_len and "must be at least " .. plural(min_len, "character", "characters")
  local max_msg = max_len and "must be at most " .. plural(max_len, "character", "characters")
  local pattern_msg = pattern and "must match the pattern " .. pattern
  local limit_msg = "is too long or too complex to check against the pattern " ..
    tostring(pattern)
  return function(v)
    if v == NULL and nullable then return v end
    if type(v) ~= "string" then
      fail("type", type_msg)
      return v
    end
    local n = utf8_length(v)
    if not n then
      fail("utf8", "must be valid UTF-8 text")
      return v
    end
    if min_len and n < min_len then fail("minLength", min_msg) end
    if max_len and n > max_len then fail("maxLength", max_msg) end
    if enum and not enum[v] then fail("enum", enum_msg) end
    if re then
      local ok = re:test(v)
      if not ok then fail("pattern", ok == nil and limit_msg or pattern_msg) end
    end
    return v
  end
end

local function number_check(def, path, nullable, integer)
  local min, max = bound(path, def, "minimum"), bound(path, def, "maximum")
  local xmin, xmax = bound(path, def, "exclusiveMinimum"), bound(path, def, "exclusiveMaximum")
  if min and max and min > max then
    refuse(at(path, "minimum"), "must not be greater than maximum")
  end
  local enum, enum_msg = enum_set(path, def, integer and "integer" or "number")
  local type_msg = (integer and "must be an integer" or "must be a number") ..
    (nullable and " or null" or "")
  local min_msg = min and "must be at least " .. tostring(min)
  local max_msg = max and "must be at most " .. tostring(max)
  local xmin_msg = xmin and "must be greater than " .. tostring(xmin)
  local xmax_msg = xmax and "must be less than " .. tostring(xmax)
  return function(v)
    if v == NULL and nullable then return v end
    if coerce and type(v) == "string" then v = text_number(v) or v end
    if type(v) ~= "number" or v ~= v or v == huge or v == -huge or
      (integer and (v ~= floor(v) or v > MAX_SAFE or v < -MAX_SAFE)) then
      fail("type", type_msg)
      return v
    end
    if min and v < min then fail("minimum", min_msg) end
    if max and v > max then fail("maximum", max_msg) end
    if xmin and v <= xmin then fail("exclusiveMinimum", xmin_msg) end
    if xmax and v >= xmax then fail("exclusiveMaximum", xmax_msg) end
    if enum and not enum[v] then fail("enum", enum_msg) end
    return v
  end
end

local BOOLEAN_TEXT = { ["true"] = true, ["false"] = false }

local function boolean_check(def, path, nullable)
  local enum, enum_msg = enum_set(path, def, "boolean")
  local type_msg = "must be a boolean" .. (nullable and " or null" or "")
  return function(v)
    if v == NULL and nullable then return v end
    if coerce and type(v) == "string" and BOOLEAN_TEXT[v] ~= nil then v = BOOLEAN_TEXT[v] end
    if type(v) ~= "boolean" then
      fail("type", type_msg)
      return v
    end
    if enum and not enum[v] then fail("enum", enum_msg) end
    return v
  end
end

local function array_check(def, path, nullable)
  if def.enum ~= nil then refuse(at(path, "enum"), "applies to strings, numbers and booleans") end
  local min_items, max_items = count(path, def, "minItems"), count(path, def, "maxItems")
  if min_items and max_items and min_items > max_items then
    refuse(at(path, "minItems"), "must not be greater than maxItems")
  end
  local items = def.items ~= nil and compile_node(def.items, at(path, "items")) or nil
  local type_msg = "must be an array" .. (nullable and " or null" or "")
  local min_msg = min_items and "must have at least " .. plural(min_items, "item", "items")
  local max_msg = max_items and "must have at most " .. plural(max_items, "item", "items")
  return function(v)
    if v == NULL and nullable then return v end
    -- A query key given once arrives as a lone string: with coercion it is a list of one.
    if coerce and v ~= nil and v ~= NULL and type(v) ~= "table" then
      v = setmetatable({ v }, ARRAY_MT)
    end
    if type(v) ~= "table" or not is_array(v) then
      fail("type", type_msg)
      return v
    end
    local n = #v
    if min_items and n < min_items then fail("minItems", min_msg) end
    if max_items and n > max_items then fail("maxItems", max_msg) end
    if items then
      depth = depth + 1
      for i = 1, n do
        keys[depth] = i - 1
        local x = v[i]
        local y = items(x)
        if y ~= x then v[i] = y end
      end
      depth = depth - 1
    end
    return v
  end
end

local function object_check(def, path, nullable)
  if def.enum ~= nil then refuse(at(path, "enum"), "applies to strings, numbers and booleans") end
  local props = def.properties
  if props ~= nil and (type(props) ~= "table" or getmetatable(props) == ARRAY_MT or
    (next(props) ~= nil and is_list(props))) then
    refuse(at(path, "properties"), "must be a table of name = schema")
  end
  props = props or {}
  local names, checks, defaults, known = {}, {}, {}, {}
  for name in pairs(props) do
    if type(name) ~= "string" then
      refuse(at(path, "properties"), "names must be strings, got " .. type(name))
    end
    names[#names + 1] = name
  end
  table.sort(names) -- the same order every time: failures listed in a stable order
  for i, name in ipairs(names) do
    local sub_path = at(at(path, "properties"), name)
    checks[i] = compile_node(props[name], sub_path)
    known[name] = true
    local d = props[name]
    if getmetatable(d) == Compiled then d = d._def end
    defaults[i] = d.default
  end
  local required = {}
  if def.required ~= nil then
    if not is_list(def.required) then
      refuse(at(path, "required"), "must be a list of property names")
    end
    for i, name in ipairs(def.required) do
      if not known[name] then
        refuse(at(path, "required") .. "[" .. (i - 1) .. "]",
          "names " .. tostring(name) .. ", which is not in properties")
      end
      required[name] = true
    end
  end
  local extra = def.additionalProperties
  if extra == nil then
    extra = false
  elseif type(extra) == "table" then
    extra = compile_node(extra, at(path, "additionalProperties"))
  elseif type(extra) ~= "boolean" then
    refuse(at(path, "additionalProperties"), "must be a boolean or a schema")
  end
  local n = #names
  local is_required = {}
  for i, name in ipairs(names) do is_required[i] = required[name] or false end
  local type_msg = "must be an object" .. (nullable and " or null" or "")
  return function(v)
    if v == NULL and nullable then return v end
    if type(v) ~= "table" or is_array(v) then
      fail("type", type_msg)
      return v
    end
    depth = depth + 1
    for i = 1, n do
      local name = names[i]
      local x = v[name]
      keys[depth] = name
      if x == nil then
        if is_required[i] then
          fail("required", "is required")
        elseif defaults[i] ~= nil then
          v[name] = deep_copy(defaults[i])
        end
      else
        local y = checks[i](x)
        if y ~= x then v[name] = y end
      end
    end
    if extra ~= true then
      for k, x in next, v do
        if not known[k] then
          keys[depth] = k
          if extra == false then
            fail("additionalProperties", "is not allowed")
          else
            local y = extra(x)
            if y ~= x then v[k] = y end
          end
        end
      end
    end
    depth = depth - 1
    return v
  end
end

local BUILDERS = { string = string_check, integer = number_check, number = number_check,
                   boolean = boolean_check, array = array_check, object = object_check }

-- Runs check on v alone, outside any validate: the errors it finds, or nil.
local function run(check, v, with_coercion)
  errs, depth, coerce = nil, 0, with_coercion or false
  local out = check(v)
  local found = errs
  errs, coerce = nil, false
  return out, found
end

function compile_node(def, path)
  if getmetatable(def) == Compiled then return def._check end
  if type(def) ~= "table" then
    refuse(path, "must be a schema table, got " .. type(def))
  end
  local t = def.type
  if t == nil then refuse(path, "needs a type (" .. TYPE_LIST .. ")") end
  if not TYPES[t] then refuse(at(path, "type"), "must be one of " .. TYPE_LIST) end
  local own = KEYWORDS[t]
  for k in pairs(def) do
    if not COMMON[k] and not own[k] then
      local elsewhere = false
      for _, kws in pairs(KEYWORDS) do elsewhere = elsewhere or kws[k] == true end
      if elsewhere then
        refuse(at(path, k), "does not apply to type " .. t)
      end
      refuse(at(path, tostring(k)), "is not a known keyword")
    end
  end
  if def.nullable ~= nil and type(def.nullable) ~= "boolean" then
    refuse(at(path, "nullable"), "must be a boolean")
  end
  if def.examples ~= nil and not is_list(def.examples) then
    refuse(at(path, "examples"), "must be a list")
  end
  for _, k in ipairs { "description", "title" } do
    if def[k] ~= nil and type(def[k]) ~= "string" then refuse(at(path, k), "must be a string") end
  end
  local check = BUILDERS[t](def, path, def.nullable == true, t == "integer")
  if def.default ~= nil then
    local _, found = run(check, deep_copy(def.default))
    if found then
      refuse(at(path, "default"), "does not match the schema: " .. found[1].message)
    end
  end
  return check
end

-- API ---------------------------------------------------------------------------------------

-- compile(def[, name]): name starts the path an error names in the definition ("body").
function M.compile(def, name)
  if getmetatable(def) == Compiled then return def end
  if name ~= nil and type(name) ~= "string" then
    misuse.raise("schema", "the name must be a string")
  end
  local copy = deep_copy(def)
  local check = compile_node(copy, name or "")
  return setmetatable({ _check = check, _def = copy }, Compiled)
end

function M.is_compiled(v)
  return getmetatable(v) == Compiled
end

function Compiled:validate(v, opts)
  errs, depth, coerce = nil, 0, opts ~= nil and opts.coerce == true
  local out = self._check(v)
  coerce = false
  if errs then
    local found = errs
    errs = nil
    return nil, found
  end
  return out
end

local function list_copy(t)
  local out = setmetatable({}, ARRAY_MT)
  for i, x in ipairs(t) do out[i] = deep_copy(x) end
  return out
end

local function to_json_schema(def)
  if getmetatable(def) == Compiled then def = def._def end
  local out = {}
  for k, x in pairs(def) do
    if k == "properties" then
      local props = {}
      for name, sub in pairs(x) do props[name] = to_json_schema(sub) end
      out.properties = props
    elseif k == "items" or (k == "additionalProperties" and type(x) == "table") then
      out[k] = to_json_schema(x)
    elseif k == "required" or k == "enum" or k == "examples" then
      out[k] = list_copy(x)
    elseif k ~= "nullable" then
      out[k] = deep_copy(x)
    end
  end
  if def.type == "object" and def.additionalProperties == nil then
    out.additionalProperties = false
  end
  if def.nullable then
    out.type = setmetatable({ def.type, "null" }, ARRAY_MT)
    if out.enum then
      local has_null = false
      for _, x in ipairs(out.enum) do has_null = has_null or x == NULL end
      if not has_null then out.enum[#out.enum + 1] = NULL end
    end
  end
  return out
end

-- The JSON Schema 2020-12 form (what OpenAPI 3.1 takes): nullable becomes type = { t, "null" }
-- (and null joins an enum), additionalProperties = false is written out.
function Compiled:json_schema()
  return to_json_schema(self._def)
end

return M
