-- speezy.loader (issue #17): DataLoader's batching and caching on light threads, through the
-- real binary. The loads of one request's threads in one turn of the loop make one call of
-- the batch function, without duplicates; a key fails alone, or every key of a call fails;
-- the cache lives as long as the request and no longer; calls split at max_batch; map answers
-- and key functions. Routes: spec/fixtures/scripts/threads/routes/loader.lua.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local SCRIPTS = "spec/fixtures/scripts/threads"

-- The answer's payload (the envelope's success flag checked and dropped).
local function get(srv, path)
  local res = srv:request{ path = path, timeout_ms = 10000 }
  assert.equal(200, res.status, res.body)
  assert.is_true(res.json.success)
  res.json.success = nil
  return res.json
end

describe("speezy.loader", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("batches the loads of 20 threads into one call, each key once", function()
    local j = get(srv, "/loader/batch")
    assert.same({ "1,2,3,4,5,6,7,8,9,10,13,404" }, j.calls)
    for i = 1, 20 do
      local k = ((i - 1) % 10) + 1
      assert.same({ value = k * k }, j.results[i])
    end
    assert.same({ err = "UNLUCKY" }, j.results[21]) -- a key failing alone
    assert.same({ value = cjson.null }, j.results[22]) -- absent
    assert.is_true(j.same) -- for_request gives the request's loader back
  end)

  it("fails every key of a call that raised or failed, and asks again later", function()
    local j = get(srv, "/loader/failures")
    assert.same({ { err = "BOOM" }, { err = "BOOM" } }, j.raised) -- two keys, one call
    assert.same({ err = "DOWN" }, j.down)
    assert.same({ err = "loader: batch_fn returned a string, not a table" }, j.odd)
    assert.equal(3, j.calls_before)
    assert.same({ err = "BOOM" }, j.raised_again)
    assert.equal(4, j.calls_after)
  end)

  it("caches within the request: clear, prime, load_many, cache = false", function()
    local j = get(srv, "/loader/cache")
    assert.same({ value = 49 }, j.first)
    assert.same({ value = 49 }, j.again)
    assert.equal(1, j.calls_after_again)
    assert.same({ value = 49 }, j.cleared)
    assert.same({ value = "primed" }, j.primed)
    assert.same({ value = 49 }, j.seven) -- prime never replaces a cached value
    assert.same({ 1, 4, 4, "primed", true }, j.many)
    assert.equal("UNLUCKY", j.many_err)
    assert.same({ "7", "7", "1,2,13" }, j.calls)
    assert.same({ 9, 9, 9 }, j.uncached)
    assert.same({ "3", "3" }, j.uncached_calls) -- one call shared at once, none cached
  end)

  it("gives each request its own cache, and refuses another request's loader", function()
    local a = get(srv, "/loader/owner")
    local b = get(srv, "/loader/owner")
    assert.equal(a.mine, a.value)
    assert.equal(b.mine, b.value)
    assert.are_not.equal(a.value, b.value)
    assert.same({ 1, 1 }, { a.calls, b.calls })
    assert.equal(a.value, a.again)
    for _ = 1, 2 do -- a ctx kept past its request
      local c = get(srv, "/loader/shared-ctx")
      assert.same({ value = c.mine, mine = c.mine, calls = 1 }, c)
    end
    assert.same({ kept = "x" }, get(srv, "/loader/kept"))
    local j = get(srv, "/loader/kept")
    assert.is_false(j.ok)
    assert.matches("routes/loader%.lua:%d+: loader:load: this loader belongs to another request",
      j.err)
  end)

  it("splits a batch at max_batch into calls that run at once", function()
    local j = get(srv, "/loader/max")
    assert.same({ "101,102,103,104,105,106,107,108,109,110",
                  "111,112,113,114,115,116,117,118,119,120", "121,122,123,124,125" }, j.calls)
    assert.equal(125 * 125, j.last)
  end)

  it("reads a map answer, with keys named by a key function", function()
    assert.same({ number = "name 3", text = "name 3", calls = { 1 } }, get(srv, "/loader/map"))
  end)

  it("refuses loader.new at script top level, naming where", function()
    local j = get(srv, "/loader/toplevel")
    assert.is_false(j.ok)
    assert.matches("routes/loader%.lua:%d+: loader%.new: make loaders inside a request", j.err)
  end)
end)
