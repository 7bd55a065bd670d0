-- speezy.loader — DataLoader's batching and caching, for one request, on light threads.
--
--   local loader = require "speezy.loader"
--   local users = loader.for_request(ctx, "users", users_service.by_ids)  -- one per request
--   local user, err = users:load(store.owner_id)          -- value | nil (absent) | nil, err
--   local list, errs = users:load_many({ 3, 5, 8 })        -- values in key order; errs[i]
--   users:prime(9, user9); users:clear(3); users:clear_all()
--
-- Every load a request's threads make before the event loop turns joins one call of
-- batch_fn(keys) (DataLoader's "one tick"): the first load of a turn spawns a thread that
-- sleeps 0 ms, and by the time the loop wakes it every resolver of the level has asked. Keys
-- are distinct in a call (opts.key(k) names a key: tostring for ids that come as strings and
-- numbers), at most opts.max_batch (100) of them, more go in further calls that run at once.
-- batch_fn(keys) returns the values in key order (a list, nil for an absent key) or, with
-- opts.map, a table keyed by key; loader.error(err) (or an err of pg/redis) in place of a
-- value fails that key alone; returning nil, err or raising fails every key of the call with
-- err. Values stay cached for the request (opts.cache = false: only the call is shared);
-- failures are not cached, a later load asks again.
--
-- A loader belongs to the request (or job) that made it: its cache holds what that caller
-- may see, so another request using it raises, and loader.new at script top level raises.
local core = require "speezy.core"
local misuse = require "speezy.misuse"

local M = {}

local Loader = {}
Loader.__index = Loader

local Failed = {} -- the metatable of loader.error's wrapper

-- Marks a value of batch_fn's answer as the failure of its key: load gives nil, err.
function M.error(err)
  return setmetatable({ err = err }, Failed)
end

local function positive_integer(v)
  return type(v) == "number" and v >= 1 and v % 1 == 0
end

-- batch_fn(keys) -> values | nil, err; opts: max_batch, cache, key, map.
function M.new(batch_fn, opts)
  if type(batch_fn) ~= "function" then
    misuse.raise("loader.new", "batch_fn must be a function, got " .. type(batch_fn))
  end
  opts = opts or {}
  if type(opts) ~= "table" then misuse.raise("loader.new", "options must be a table") end
  local max_batch = opts.max_batch or 100
  if not positive_integer(max_batch) then
    misuse.raise("loader.new", "max_batch must be a positive integer")
  end
  if opts.key ~= nil and type(opts.key) ~= "function" then
    misuse.raise("loader.new", "key must be a function")
  end
  local owner = core.owner()
  if not owner then
    misuse.raise("loader.new", "make loaders inside a request or a job (one made at script " ..
      "top level would share its cache between requests)")
  end
  return setmetatable({
    batch_fn = batch_fn, max_batch = max_batch, cache = opts.cache ~= false,
    key_of = opts.key, map = opts.map == true, owner = owner,
    entries = {},   -- cache key -> entry { key, ck, batch, done, value, err }
    pending = nil,  -- the batch collecting this turn's keys: { entries, by_key, thread }
  }, Loader)
end

local function check_owner(self, what)
  if getmetatable(self) ~= Loader then
    misuse.raise(what, "call it with a colon (loader:" .. what:match("[%w_]+$") .. "(...))")
  end
  if core.owner() ~= self.owner then
    misuse.raise(what, "this loader belongs to another request or job (make one per " ..
      "request: loader.for_request)")
  end
end

local function cache_key(self, key, what)
  if key == nil then misuse.raise(what, "the key must not be nil") end
  if self.key_of then return self.key_of(key) end
  return key
end

local function settle(e, value)
  local mt = getmetatable(value)
  if mt == Failed then
    e.err = value.err
  elseif core.is_error(value) then
    e.err = value
  else
    e.value = value
  end
  e.done = true
end

-- One call of batch_fn for entries; every entry is settled after it, whatever happens.
local function run_batch(self, entries)
  local keys = {}
  for i, e in ipairs(entries) do keys[i] = e.key end
  local ok, values, err = pcall(self.batch_fn, keys)
  if ok and type(values) ~= "table" and values ~= nil then
    ok, values = false, "loader: batch_fn returned a " .. type(values) .. ", not a table"
  end
  if not ok or values == nil then
    local why = not ok and values or err or "loader: batch_fn returned nothing"
    for _, e in ipairs(entries) do
      e.err, e.done = why, true
    end
  else
    for i, e in ipairs(entries) do
      if self.map then settle(e, values[e.key]) else settle(e, values[i]) end
    end
  end
  -- failures are not kept: the next load asks again
  for _, e in ipairs(entries) do
    if e.err ~= nil and self.entries[e.ck] == e then self.entries[e.ck] = nil end
  end
end

-- The thread of a batch: waits for the rest of this loop turn, then calls batch_fn, in chunks
-- of max_batch that run at once.
local function dispatch(self, batch)
  core.sleep(0)
  if self.pending == batch then self.pending = nil end
  local list, max = batch.entries, self.max_batch
  if #list <= max then return run_batch(self, list) end
  local threads = {}
  for first = 1, #list, max do
    threads[#threads + 1] = core.spawn(run_batch, self, { unpack(list, first,
      math.min(first + max - 1, #list)) })
  end
  for _, t in ipairs(threads) do core.wait(t) end
end

-- The entry of key: cached, joining this turn's batch, or new in it.
local function entry(self, key, what)
  local ck = cache_key(self, key, what)
  local e = self.entries[ck]
  if e then return e end
  local batch = self.pending
  e = batch and batch.by_key[ck]
  if e then return e end
  if not batch then
    batch = { entries = {}, by_key = {} }
    self.pending = batch
    batch.thread = core.spawn(dispatch, self, batch) -- runs to its sleep(0)
  end
  e = { key = key, ck = ck, batch = batch }
  batch.entries[#batch.entries + 1] = e
  batch.by_key[ck] = e
  if self.cache then self.entries[ck] = e end
  return e
end

local function await(e)
  if not e.done then
    local ok, err = core.wait(e.batch.thread)
    if not e.done then e.err, e.done = ok and "loader: the batch ended unanswered" or err, true end
  end
  if e.err ~= nil then return nil, e.err end
  return e.value
end

function Loader:load(key)
  check_owner(self, "loader:load")
  return await(entry(self, key, "loader:load"))
end

-- All keys join the same batch before any is waited for.
function Loader:load_many(keys)
  check_owner(self, "loader:load_many")
  if type(keys) ~= "table" then misuse.raise("loader:load_many", "keys must be a list") end
  local list = {}
  for i, k in ipairs(keys) do list[i] = entry(self, k, "loader:load_many") end
  local values, errs = {}, nil
  for i, e in ipairs(list) do
    local v, err = await(e)
    values[i] = v
    if err ~= nil then
      errs = errs or {}
      errs[i] = err
    end
  end
  return values, errs
end

-- Forgets key: the next load asks batch_fn again.
function Loader:clear(key)
  check_owner(self, "loader:clear")
  self.entries[cache_key(self, key, "loader:clear")] = nil
  return self
end

function Loader:clear_all()
  check_owner(self, "loader:clear_all")
  self.entries = {}
  return self
end

-- Caches value for key unless key is cached already (a value read elsewhere, say a list page).
function Loader:prime(key, value)
  check_owner(self, "loader:prime")
  local ck = cache_key(self, key, "loader:prime")
  if self.cache and not self.entries[ck] then
    local e = { key = key, ck = ck }
    settle(e, value)
    if e.err == nil then self.entries[ck] = e end
  end
  return self
end

-- The loaders of each request, by what the request passes as ctx (its GraphQL context, or
-- req): the keys are weak, so they go with the request.
local by_ctx = setmetatable({}, { __mode = "k" })

-- The loader named name of ctx's request, made with batch_fn and opts on first use.
function M.for_request(ctx, name, batch_fn, opts)
  if type(ctx) ~= "table" then
    misuse.raise("loader.for_request", "ctx must be the request's table (its GraphQL context " ..
      "or req)")
  end
  if type(name) ~= "string" then misuse.raise("loader.for_request", "name must be a string") end
  local owner = core.owner()
  local set = by_ctx[ctx]
  if not set or set.owner ~= owner then -- a ctx kept past its request starts afresh
    set = { owner = owner, loaders = {} }
    by_ctx[ctx] = set
  end
  local l = set.loaders[name]
  if not l then
    l = M.new(batch_fn, opts)
    set.loaders[name] = l
  end
  return l
end

return M
