-- The application's GraphQL schema (issue #17) on its own scripts/: the seed's hello,
-- redisPing and addJob, `me`, and the stores as REST serves them (one business module for
-- both), with the Bearer token of the REST API, per-field roles, cursor pages, and a page's
-- owners and addresses loaded in a constant number of statements.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local function gql(srv, query, variables, token)
  local headers = { ["Content-Type"] = "application/json", Accept = "application/json" }
  if token then headers.Authorization = "Bearer " .. token end
  local res = srv:request{ method = "POST", path = "/graphql", headers = headers,
                           body = cjson.encode({ query = query, variables = variables }) }
  assert(res.json, res.body)
  return res.json, res
end

local function codes(answer)
  local list = {}
  for _, e in ipairs(answer.errors or {}) do
    list[#list + 1] = (e.extensions or {}).code or "?"
  end
  return table.concat(list, " ")
end

local ADDRESS = { street = "12 MG Road", city = "Bengaluru", state = "KA", postalCode = "560001",
                  country = "India", latitude = 12.97, longitude = 77.59 }

local CREATE = [[
mutation($input: CreateStoreInput!) {
  createStore(input: $input) { id name description phone isOpen ownerId addressId
                               address { id city latitude } }
}]]

local function create(srv, token, name)
  local a = gql(srv, CREATE, { input = { name = name or "Store", phone = "9876543210",
                                         address = ADDRESS } }, token)
  assert(a.data and a.data.createStore ~= cjson.null, cjson.encode(a))
  return a.data.createStore
end

-- Makes the account of a fresh phone an ADMIN (the only way is outside the API).
local function admin(srv)
  local p = h.phone()
  local first = srv:sign_in(nil, p)
  h.must_psql(srv.env.DATABASE_URL, "UPDATE users SET role = 'ADMIN' WHERE id = " .. first.user.id)
  return srv:sign_in(nil, p)
end

describe("GraphQL on the application's scripts", function()
  local srv, owner

  setup(function()
    srv = h.start_app{ scripts = h.relaxed_scripts() }
    owner = srv:sign_in("STORE_OWNER")
  end)
  teardown(function() if srv then srv:stop() end end)

  it("answers the seed's hello and redisPing, over POST and GET", function()
    assert.same({ data = { hello = "Hello from Speezy" } }, gql(srv, "{ hello }"))
    assert.same({ data = { redisPing = "PONG" } }, gql(srv, "query { redisPing }"))
    local res = srv:request{ path = "/graphql?query=%7B%20redisPing%20%7D",
                             headers = { Accept = "application/json" } }
    assert.equal(200, res.status, res.body)
    assert.same({ data = { redisPing = "PONG" } }, res.json)
  end)

  it("queues the seed's test job with addJob, and the job runs", function()
    local msg = h.uniq("Hello World")
    assert.same({ data = { addJob = true } },
      gql(srv, "mutation($m: String!) { addJob(message: $m) }", { m = msg }))
    srv:wait_log(": " .. msg, 10000) -- scripts/jobs/test.lua logs the message
    local a = gql(srv, 'mutation { addJob(message: "' .. ("x"):rep(1001) .. '") }')
    assert.equal("BAD_USER_INPUT", codes(a))
    assert.same({ "addJob" }, a.errors[1].path)
    assert.same({ addJob = cjson.null }, a.data) -- a nullable field: only it is null
  end)

  it("answers me for the Bearer token's user, UNAUTHENTICATED without one", function()
    local a = gql(srv, "{ me { id phone role name } }", nil, owner.accessToken)
    local rest = srv:request{ path = "/user/me",
                              headers = { Authorization = "Bearer " .. owner.accessToken } }
    assert.equal(200, rest.status, rest.body)
    assert.equal(tostring(rest.json.user.id), a.data.me.id)
    assert.equal(rest.json.user.phone, a.data.me.phone)
    assert.equal("STORE_OWNER", a.data.me.role)
    local anon = gql(srv, "{ me { id } }")
    assert.equal("UNAUTHENTICATED", codes(anon))
    assert.same({ me = cjson.null }, anon.data)
    assert.same({ "me" }, anon.errors[1].path)
    assert.same({ { line = 1, column = 3 } }, anon.errors[1].locations)
  end)

  it("gives the same store as REST's GET /store/:id", function()
    local s = create(srv, owner.accessToken, "Same data")
    local rest = srv:request{ path = "/store/" .. s.id }.json.store
    local a = gql(srv, [[query($id: ID!) { store(id: $id) { id name description phone isOpen
      ownerId addressId address { id street city state postalCode country latitude
      longitude } } }]], { id = s.id })
    local g = a.data.store
    assert.is_nil(a.errors)
    for _, k in ipairs({ "id", "ownerId", "addressId" }) do
      assert.equal(tostring(rest[k]), g[k])
    end
    for _, k in ipairs({ "name", "description", "phone", "isOpen" }) do
      assert.equal(rest[k], g[k])
    end
    assert.equal("+919876543210", g.phone)
    for k, v in pairs(rest.address) do
      assert.equal(k == "id" and tostring(v) or v, g.address[k])
    end
    assert.same({ store = cjson.null }, gql(srv, '{ store(id: "999999999") { id } }').data)
    assert.same({ store = cjson.null }, gql(srv, '{ store(id: "abc") { id } }').data)
  end)

  it("creates stores for store owners and admins only, validating the input as REST does",
    function()
      local s = create(srv, owner.accessToken, "  Trimmed  ")
      assert.equal("Trimmed", s.name)
      assert.equal(tostring(owner.user.id), s.ownerId)
      assert.equal("Bengaluru", s.address.city)
      assert.equal(true, s.isOpen)
      local customer = srv:sign_in("CUSTOMER")
      local input = { name = "X", address = ADDRESS }
      assert.equal("FORBIDDEN", codes(gql(srv, CREATE, { input = input }, customer.accessToken)))
      assert.equal("UNAUTHENTICATED", codes(gql(srv, CREATE, { input = input })))
      local bad = { name = "X", address = {} }
      for k, v in pairs(ADDRESS) do bad.address[k] = v end
      bad.address.latitude = 200
      local a = gql(srv, CREATE, { input = bad }, owner.accessToken)
      assert.equal("VALIDATION_FAILED", codes(a))
      assert.equal("address.latitude", a.errors[1].extensions.details[1].field)
      local wrong_type = gql(srv, CREATE, { input = { name = 5, address = ADDRESS } },
        owner.accessToken)
      assert.equal("BAD_USER_INPUT", codes(wrong_type))
      local admin_user = admin(srv)
      assert.equal(tostring(admin_user.user.id), create(srv, admin_user.accessToken).ownerId)
    end)

  it("shows a store's owner to admins only", function()
    local s = create(srv, owner.accessToken, "Owned")
    local q = '{ store(id: "' .. s.id .. '") { name owner { id phone } } }'
    local as_customer = gql(srv, q, nil, srv:sign_in("CUSTOMER").accessToken)
    assert.equal("FORBIDDEN", codes(as_customer))
    assert.same({ "store", "owner" }, as_customer.errors[1].path)
    assert.same({ name = "Owned", owner = cjson.null }, as_customer.data.store)
    local as_admin = gql(srv, q, nil, admin(srv).accessToken)
    assert.is_nil(as_admin.errors)
    assert.equal(tostring(owner.user.id), as_admin.data.store.owner.id)
    assert.equal(owner.user.phone, as_admin.data.store.owner.phone)
  end)

  it("pages through the stores with cursors", function()
    for i = 1, 25 do create(srv, owner.accessToken, "Page " .. i) end
    local Q = [[query($first: Int, $after: String) { stores(first: $first, after: $after) {
      edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage startCursor
      endCursor } } }]]
    local seen, count, last, after, pages = {}, 0, 0, nil, 0
    repeat
      local a = gql(srv, Q, { first = 20, after = after })
      assert.is_nil(a.errors, cjson.encode(a.errors))
      local page = a.data.stores
      assert.is_true(#page.edges <= 20)
      for _, e in ipairs(page.edges) do
        local id = tonumber(e.node.id)
        assert.is_nil(seen[id], "a store twice")
        assert.is_true(id > last, "stores out of order")
        seen[id], count, last = true, count + 1, id
      end
      if #page.edges > 0 then
        assert.equal(page.edges[#page.edges].cursor, page.pageInfo.endCursor)
        assert.equal(page.edges[1].cursor, page.pageInfo.startCursor)
      end
      after, pages = page.pageInfo.endCursor, pages + 1
    until not page.pageInfo.hasNextPage
    local n = tonumber(h.must_psql(srv.env.DATABASE_URL,
      "SELECT count(*) FROM stores WHERE deleted_at IS NULL"):match("%d+"))
    assert.equal(n, count)
    assert.is_true(pages >= 2)
    assert.equal("BAD_USER_INPUT", codes(gql(srv, Q, { first = 5, after = "not a cursor" })))
    assert.equal("BAD_USER_INPUT", codes(gql(srv, Q, { first = 101 })))
  end)
end)

describe("GraphQL batching", function()
  local srv, dir

  setup(function()
    dir = h.relaxed_scripts()
    h.write_file(dir .. "/routes/pgstats.lua", [[
local app = require "speezy.app"
local pg = require "speezy.pg"
app.get("/test/pg-statements", function()
  return 200, { statements = pg.stats().batched }
end)
]])
    h.write_file(dir .. "/app.lua", h.read_file(dir .. "/app.lua") .. 'require "routes.pgstats"\n')
    srv = h.start_app{ scripts = dir, env = { WORKERS = "1" } }
  end)
  teardown(function() if srv then srv:stop() end end)

  -- Statements the worker sent to PostgreSQL while answering one query.
  local function statements(query, token)
    local before = srv:request{ path = "/test/pg-statements" }.json.statements
    local a = gql(srv, query, nil, token)
    assert.is_nil(a.errors, cjson.encode(a.errors))
    return srv:request{ path = "/test/pg-statements" }.json.statements - before, a
  end

  it("loads a page's owners and addresses in a constant number of statements", function()
    local owner = srv:sign_in("STORE_OWNER")
    for i = 1, 20 do create(srv, owner.accessToken, "Batch " .. i) end
    local token = admin(srv).accessToken
    local counts = {}
    for _, n in ipairs({ 1, 5, 20 }) do
      local used, a = statements(("{ stores(first: %d) { edges { node { id name owner { id phone }"
        .. " address { city } } } } }"):format(n), token)
      assert.equal(n, #a.data.stores.edges)
      counts[#counts + 1] = used
    end
    assert.equal(counts[1], counts[2])
    assert.equal(counts[1], counts[3])
    assert.is_true(counts[1] <= 4, "statements per page: " .. counts[1])
  end)
end)
