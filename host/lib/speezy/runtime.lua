-- speezy.runtime — the sandbox scripts run in, and how a generation boots.
--
-- Scripts see an allow-list of globals, may not create new ones, load only text (never
-- bytecode) and require only their own files (from the generation's snapshot) or the
-- public speezy.* modules. The host's own modules run outside the sandbox.
local app = require "speezy.app"
local core = require "speezy.core"
local pg = require "speezy.pg"
local queue = require "speezy.queue"

local M = {}

local SAFE = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
  "type", "unpack", "xpcall", "rawequal", "rawget", "rawset", "rawlen", "setmetatable",
  "getmetatable", "_VERSION",
}

local function copy(t, except)
  local c = {}
  for k, v in pairs(t) do
    if not (except and except[k]) then c[k] = v end
  end
  return c
end

local function is_private(name)
  return name == "speezy.runtime" or name:match("^speezy%.[%w_]+%.core$") ~= nil
end

local function make_env()
  local env = {}
  for _, k in ipairs(SAFE) do env[k] = _G[k] end
  env.string = copy(string, { dump = true })
  env.table = copy(table)
  env.math = copy(math)
  env.bit = copy(bit)
  env.os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }
  -- Safe to share: I/O bindings refuse to run inside a script's own coroutine (they only
  -- yield the request's), so a generator can't strand a request.
  env.coroutine = copy(coroutine)
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    core.log("info", table.concat(parts, "\t"))
  end
  return env
end

local function strict(env)
  return setmetatable(env, {
    __index = function(_, k)
      error("undefined global '" .. tostring(k) .. "'", 2)
    end,
    __newindex = function(_, k)
      error("assignment to undefined global '" .. tostring(k) .. "' (declare it local)", 2)
    end,
    __metatable = false,
  })
end

-- files: relative path -> source text; dir: how chunk names show the scripts directory.
function M.boot(files, hash, dir)
  -- Scripts must not reach the real string library through the string metatable.
  getmetatable("").__metatable = false
  local env = make_env()
  local loaded = {}
  local function script_require(name)
    if type(name) ~= "string" then
      error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
    end
    local mod = loaded[name]
    if mod ~= nil then return mod end
    if name:match("^speezy%.") or name == "cjson" or name == "cjson.safe" then
      if is_private(name) then error("module '" .. name .. "' is internal to the host", 2) end
      return require(name)
    end
    local path = name:gsub("%.", "/") .. ".lua"
    local src = files[path]
    if not src then error("module '" .. name .. "' not found under " .. dir .. "/", 2) end
    local fn, err = load(src, "@" .. dir .. "/" .. path, "t", env)
    if not fn then error(err, 0) end
    loaded[name] = true -- a require cycle sees `true` instead of recursing forever
    mod = fn(name)
    if mod == nil then mod = true end
    loaded[name] = mod
    return mod
  end
  env.require = script_require
  strict(env)
  app._generation = hash
  if not files["app.lua"] then error(dir .. "/app.lua: missing (the scripts' entry point)", 0) end
  script_require("app")
  -- the GraphQL schema of graphql/*.graphql and its resolver maps graphql/*.lua, if any
  require("speezy.graphql.load").boot(files, script_require, dir)
  return app._finish(), app._dispatch, queue._finish(pg.stats() ~= nil), queue._run
end

return M
