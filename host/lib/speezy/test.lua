-- speezy.test — the in-host spec runner behind `speezy test FILE...`.
--
-- Spec files use a busted-like vocabulary (describe, it, before_each, after_each, assert.*)
-- and run inside a coroutine of the host, so pg, redis and sleep work as in a handler.
local M = {}

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function deep_equal(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deep_equal(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function dump(v, depth)
  depth = depth or 0
  if type(v) ~= "table" or depth > 3 then return fmt(v) end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = "[" .. fmt(k) .. "]=" .. dump(x, depth + 1) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function fail(msg, level)
  error(msg, (level or 1) + 2)
end

local assert_ = {}
function assert_.equal(expected, actual, msg)
  if expected ~= actual then
    fail((msg and msg .. ": " or "") .. "expected " .. fmt(expected) .. ", got " .. fmt(actual))
  end
end
function assert_.same(expected, actual, msg)
  if not deep_equal(expected, actual) then
    fail((msg and msg .. ": " or "") .. "expected " .. dump(expected) .. ", got " .. dump(actual))
  end
end
function assert_.truthy(v, msg)
  if not v then fail(msg or ("expected a truthy value, got " .. fmt(v))) end
end
function assert_.falsy(v, msg)
  if v then fail(msg or ("expected a falsy value, got " .. fmt(v))) end
end
function assert_.is_nil(v, msg)
  if v ~= nil then fail(msg or ("expected nil, got " .. fmt(v))) end
end
function assert_.is_not_nil(v, msg)
  if v == nil then fail(msg or "expected a value, got nil") end
end
function assert_.is_true(v, msg)
  if v ~= true then fail(msg or ("expected true, got " .. fmt(v))) end
end
function assert_.is_false(v, msg)
  if v ~= false then fail(msg or ("expected false, got " .. fmt(v))) end
end
function assert_.matches(pattern, s, msg)
  if type(s) ~= "string" or not s:find(pattern) then
    fail((msg and msg .. ": " or "") .. fmt(s) .. " does not match " .. fmt(pattern))
  end
end
function assert_.has_error(fn, expected)
  local ok, err = pcall(fn)
  if ok then fail("expected an error, none was raised") end
  if expected and not tostring(err):find(expected, 1, true) then
    fail("expected an error containing " .. fmt(expected) .. ", got " .. fmt(tostring(err)))
  end
end
for _, t in ipairs { "table", "number", "string", "boolean", "function" } do
  assert_["is_" .. t] = function(v, msg)
    if type(v) ~= t then fail(msg or ("expected a " .. t .. ", got " .. type(v))) end
  end
end
assert_.are, assert_.is = assert_, assert_
assert_.not_nil = assert_.is_not_nil
setmetatable(assert_, {
  __call = function(_, v, msg, ...)
    if not v then error(msg or "assertion failed!", 2) end
    return v, msg, ...
  end,
})
M.assert = assert_

-- Collects the tree by running the file, then runs each `it` with its hooks. Returns the
-- counts passed, failed and pending (a `pending` test is neither passed nor failed).
function M.run(src, name, write)
  local root = { name = "", children = {}, before = {}, after = {} }
  local current = root
  local env = setmetatable({}, { __index = _G })
  function env.describe(desc, body)
    local node = { name = desc, children = {}, before = {}, after = {}, parent = current }
    current.children[#current.children + 1] = node
    local saved = current
    current = node
    body()
    current = saved
  end
  env.context = env.describe
  function env.it(desc, body)
    current.children[#current.children + 1] = { name = desc, test = body, parent = current }
  end
  function env.pending(desc)
    current.children[#current.children + 1] = { name = desc, pending = true, parent = current }
  end
  function env.before_each(fn) current.before[#current.before + 1] = fn end
  function env.after_each(fn) current.after[#current.after + 1] = fn end
  env.assert = assert_

  local passed, failed, pending = 0, 0, 0
  local chunk, err = load(src, "@" .. name, "t", env)
  if not chunk then
    write("FAIL " .. name .. ": " .. err)
    return 0, 1, 0
  end
  local ok, lerr = xpcall(chunk, debug.traceback)
  if not ok then
    write("FAIL " .. name .. " (while loading): " .. tostring(lerr))
    return 0, 1, 0
  end

  local function chain(node, key, out)
    if node.parent then chain(node.parent, key, out) end
    for _, f in ipairs(node[key] or {}) do out[#out + 1] = f end
    return out
  end
  local function title(node)
    if not node.parent then return node.name end
    local p = title(node.parent)
    return p ~= "" and (p .. " " .. node.name) or node.name
  end
  local function walk(node)
    for _, child in ipairs(node.children) do
      if child.children then
        walk(child)
      elseif child.pending then
        pending = pending + 1
        write("pending " .. title(child) .. " (" .. name .. ")")
      else
        local tok, terr = true, nil
        for _, f in ipairs(chain(node, "before", {})) do
          if tok then tok, terr = xpcall(f, debug.traceback) end
        end
        if tok then tok, terr = xpcall(child.test, debug.traceback) end
        local afters = chain(node, "after", {})
        for i = #afters, 1, -1 do
          local aok, aerr = xpcall(afters[i], debug.traceback)
          if tok and not aok then tok, terr = false, aerr end
        end
        if tok then
          passed = passed + 1
          write("ok   " .. title(child))
        else
          failed = failed + 1
          write("FAIL " .. title(child) .. "\n     " .. tostring(terr):gsub("\n", "\n     "))
        end
      end
    end
  end
  walk(root)
  -- A file that ran no test (empty, or only pending ones) proves nothing: it fails.
  if passed + failed == 0 then
    write("FAIL " .. name .. ": no test ran")
    failed = 1
  end
  return passed, failed, pending
end

return M
