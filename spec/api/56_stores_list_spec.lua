-- The stores' data for GraphQL (issue #17) on the application's own scripts/: the Relay page of
-- stores.service.list (opaque cursors, id order, soft-deleted stores skipped, first's default
-- and bounds, bad input as 400 BAD_USER_INPUT) and the loaders' batch functions
-- stores.repo.addresses_by_ids and users.service.by_ids (one statement, key order). A page of
-- stores with their owners and addresses through speezy.loader costs three statements
-- whatever its size. The spec reaches these functions through probe routes it adds to a copy
-- of scripts/ (routes/probe.lua below), which also count the statements of each request.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local PROBE = [[
-- Written by spec/api/56_stores_list_spec.lua: the stores' GraphQL data functions over HTTP.
local app = require "speezy.app"
local core = require "speezy.core"
local pg = require "speezy.pg"
local json = require "speezy.json"
local loader = require "speezy.loader"
local stores = require "stores.service"
local repo = require "stores.repo"
local users = require "users.service"

-- pg.query calls per request (by core.owner)
local queries = {}
local query = pg.query
pg.query = function(...)
  local owner = core.owner()
  if owner then queries[owner] = (queries[owner] or 0) + 1 end
  return query(...)
end
local function counted()
  local owner = core.owner()
  local n = queries[owner] or 0
  queries[owner] = nil
  return n
end

local function list_of(text)
  local out = {}
  for v in (text or ""):gmatch("[^,]+") do out[#out + 1] = v end
  return out
end

-- first as the client sent it: a number when it reads as one
app.get("/probe/stores", function(req)
  local q = req.query
  return 200, { page = stores.list{ first = q.first and (tonumber(q.first) or q.first),
                                    after = q.after, total = q.total == "1" } }
end)

local function nulls(list, n)
  for i = 1, n do if list[i] == nil then list[i] = json.null end end
  return json.array(list)
end

app.get("/probe/addresses", function(req)
  local ids = list_of(req.query.ids)
  return 200, { list = nulls(repo.addresses_by_ids(ids), #ids), queries = counted() }
end)

app.get("/probe/users", function(req)
  local ids = list_of(req.query.ids)
  return 200, { list = nulls(users.by_ids(ids), #ids), queries = counted() }
end)

-- A page with each store's owner and address, one thread per store as GraphQL resolves them.
app.get("/probe/page", function(req)
  local page = stores.list{ first = tonumber(req.query.first), after = req.query.after }
  local owners = loader.for_request(req, "users", users.by_ids)
  local addresses = loader.for_request(req, "addresses", stores.addresses_by_ids)
  local threads = {}
  for i, edge in ipairs(page.edges) do
    threads[i] = core.spawn(function()
      local s = edge.node
      return { id = s.id, owner = assert(owners:load(s.ownerId)),
               address = assert(addresses:load(s.addressId)) }
    end)
  end
  local list = {}
  for i, t in ipairs(threads) do
    local ok, v = core.wait(t)
    if not ok then error(v) end
    list[i] = v
  end
  return 200, { stores = json.array(list), queries = counted() }
end)
]]

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

-- base64url without padding (the cursor's encoding, for the tests' own cursors).
local function b64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
    for k = 1, chars do
      local v = math.floor(n / 2 ^ (18 - 6 * (k - 1))) % 64
      out[#out + 1] = B64:sub(v + 1, v + 1)
    end
  end
  return table.concat(out)
end

local function store_body(name)
  return { name = name, description = "listed", phone = "9876543210",
           address = { street = "1 List Road", city = "Pune", state = "MH", postalCode = "411001",
                       country = "IN", latitude = 18.52, longitude = 73.85 } }
end

local function get(srv, path)
  local res = srv:request{ path = path, timeout_ms = 10000 }
  assert.equal(200, res.status, res.body)
  return res.json
end

local function psql(srv, sql)
  return h.must_psql(srv.env.DATABASE_URL, sql)
end

-- The live stores' ids, in id order, as PostgreSQL has them.
local function live_ids(srv)
  local ids = {}
  for id in psql(srv, "SELECT id FROM stores WHERE deleted_at IS NULL ORDER BY id"):gmatch("%d+") do
    ids[#ids + 1] = tonumber(id)
  end
  return ids
end

describe("stores for GraphQL", function()
  local srv, owner, created

  setup(function()
    local dir = h.relaxed_scripts()
    h.write_file(dir .. "/routes/probe.lua", PROBE)
    h.write_file(dir .. "/app.lua", h.read_file(dir .. "/app.lua") .. '\nrequire "routes.probe"\n')
    srv = h.start_app{ scripts = dir }
    owner = srv:sign_in("STORE_OWNER")
    created = {}
    for i = 1, 23 do -- more than a default page
      local res = srv:request{ method = "POST", path = "/store", body = cjson.encode(
        store_body("Listed " .. i)), headers = { ["Content-Type"] = "application/json",
        Authorization = "Bearer " .. owner.accessToken } }
      assert.equal(201, res.status, res.body)
      created[i] = res.json.store
    end
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("pages through the live stores in id order with opaque cursors", function()
    psql(srv, "UPDATE stores SET deleted_at = now() WHERE id = " .. created[5].id)
    local want = live_ids(srv)
    local seen, after, pages = {}, nil, 0
    repeat
      local page = get(srv, "/probe/stores?first=7&total=1" .. (after and "&after=" .. after or
        "")).page
      pages = pages + 1
      assert.equal(#want, page.totalCount)
      assert.is_false(page.pageInfo.hasPreviousPage)
      for _, e in ipairs(page.edges) do
        assert.equal(b64url(tostring(e.node.id)), e.cursor)
        assert.equal("addressId,description,id,isOpen,name,ownerId,phone", h.keys(e.node))
        seen[#seen + 1] = e.node.id
      end
      assert.equal(page.edges[1].cursor, page.pageInfo.startCursor)
      assert.equal(page.edges[#page.edges].cursor, page.pageInfo.endCursor)
      after = page.pageInfo.endCursor
    until not page.pageInfo.hasNextPage
    assert.same(want, seen)
    assert.equal(math.ceil(#want / 7), pages)
    -- a store's node is the data GET /store/:id answers
    local one = get(srv, "/probe/stores?first=1&after=" .. b64url(tostring(created[2].id))).page
    local node = one.edges[1].node
    local rest = get(srv, "/store/" .. node.id).store
    for k, v in pairs(node) do assert.same(rest[k], v, k) end
    -- the cursor of a deleted store still leads to the stores after it
    local after_deleted = get(srv, "/probe/stores?first=1&after=" ..
      b64url(tostring(created[5].id))).page
    assert.equal(created[6].id, after_deleted.edges[1].node.id)
  end)

  it("takes 20 by default and at most 100, and refuses bad first and after", function()
    local page = get(srv, "/probe/stores").page
    assert.equal(20, #page.edges)
    assert.is_true(page.pageInfo.hasNextPage)
    assert.is_nil(page.totalCount)
    assert.equal(math.min(100, #live_ids(srv)), #get(srv, "/probe/stores?first=100").page.edges)
    local none = get(srv, "/probe/stores?first=0").page
    assert.same({}, none.edges)
    assert.is_true(none.pageInfo.hasNextPage)
    assert.equal(cjson.null, none.pageInfo.endCursor)
    local beyond = get(srv, "/probe/stores?first=1&after=" .. b64url(("%d"):format(2 ^ 52))).page
    assert.same({}, beyond.edges)
    assert.is_false(beyond.pageInfo.hasNextPage)
    -- a page that takes exactly the last stores has no next one
    local ids = live_ids(srv)
    local last = get(srv, "/probe/stores?first=2&after=" .. b64url(tostring(ids[#ids - 2]))).page
    assert.same({ ids[#ids - 1], ids[#ids] }, { last.edges[1].node.id, last.edges[2].node.id })
    assert.is_false(last.pageInfo.hasNextPage)
    for _, first in ipairs({ "101", "-1", "2.5", "abc" }) do
      local res = srv:request{ path = "/probe/stores?first=" .. first }
      local e = h.assert_error_envelope(res, 400, "BAD_USER_INPUT")
      assert.equal("first", e.error.details[1].field, first)
    end
    for _, after in ipairs({ "!!", b64url("abc"), b64url("0"), b64url("-5"), b64url("07"),
      b64url("99999999999999999999"), "" }) do
      local res = srv:request{ path = "/probe/stores?after=" .. after }
      local e = h.assert_error_envelope(res, 400, "BAD_USER_INPUT")
      assert.equal("after", e.error.details[1].field, after)
    end
  end)

  it("batch functions answer in key order with one statement", function()
    local a1, a2 = created[1].addressId, created[2].addressId
    local j = get(srv, ("/probe/addresses?ids=%d,bogus,%d,%d,999999999"):format(a2, a1, a2))
    assert.equal(1, j.queries)
    assert.equal(a2, j.list[1].id)
    assert.equal(cjson.null, j.list[2])
    assert.equal(a1, j.list[3].id)
    assert.same(j.list[1], j.list[4])
    assert.equal(cjson.null, j.list[5])
    assert.same(get(srv, "/store/" .. created[1].id).store.address, j.list[3])

    local gone = srv:sign_in("CUSTOMER").user
    psql(srv, "UPDATE users SET deleted_at = now() WHERE id = " .. gone.id)
    local u = get(srv, ("/probe/users?ids=%d,%d,x"):format(owner.user.id, gone.id))
    assert.equal(1, u.queries)
    assert.same(owner.user, u.list[1])
    assert.same({ cjson.null, cjson.null }, { u.list[2], u.list[3] })
    assert.same({ list = {}, queries = 0 }, (function()
      local r = get(srv, "/probe/users?ids=")
      return { list = r.list, queries = r.queries }
    end)())
  end)

  it("costs three statements for a page with owners and addresses, whatever its size", function()
    -- the stores this spec made (some other spec's may have owners deleted since)
    local from = created[1].id > 1 and "&after=" .. b64url(tostring(created[1].id - 1)) or ""
    for _, first in ipairs({ 20, 5 }) do
      local j = get(srv, ("/probe/page?first=%d%s"):format(first, from))
      assert.equal(first, #j.stores)
      assert.equal(3, j.queries)
      for _, s in ipairs(j.stores) do
        assert.same(owner.user, s.owner)
        assert.same(get(srv, "/store/" .. s.id).store.address, s.address)
      end
    end
  end)
end)
