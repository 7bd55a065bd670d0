-- The seed's stores (issue #16): POST /store and GET /store/:id on the application's own
-- scripts/, as a mobile client calls them: signed in by phone, the seed's body and answer, every
-- refusal in the error envelope, and the Idempotency-Key retry a flaky network makes.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local function body(over)
  local b = {
    name = "My Store", description = "Best store in town", phone = "9876543210",
    address = { street = "123 Main St", city = "CityName", state = "StateName",
                postalCode = "123456", country = "CountryName",
                latitude = 12.3456, longitude = 78.9012 },
  }
  for k, v in pairs(over or {}) do b[k] = v end
  return b
end

local function create(srv, token, b, key)
  local headers = { ["Content-Type"] = "application/json" }
  if token then headers.Authorization = "Bearer " .. token end
  if key then headers["Idempotency-Key"] = key end
  return srv:request{ method = "POST", path = "/store", headers = headers,
                      body = type(b) == "string" and b or cjson.encode(b) }
end

-- The failing fields of a 400 VALIDATION_FAILED, as "field:rule" sorted.
local function failures(res)
  local e = h.assert_error_envelope(res, 400, "VALIDATION_FAILED")
  local list = {}
  for _, d in ipairs(e.error.details or {}) do list[#list + 1] = d.field .. ":" .. d.rule end
  table.sort(list)
  return table.concat(list, " ")
end

local function count(srv, sql)
  return tonumber((h.must_psql(srv.env.DATABASE_URL, sql):gsub("%s", "")))
end

describe("stores", function()
  local srv, owner

  setup(function()
    srv = h.start_app{ scripts = h.relaxed_scripts() }
    owner = srv:sign_in("STORE_OWNER")
  end)
  teardown(function() if srv then srv:stop() end end)

  it("creates a store and its address with the seed's answer", function()
    local res = create(srv, owner.accessToken, body())
    assert.equal(201, res.status, res.body)
    assert.is_true(res.json.success)
    local s = res.json.store
    assert.equal("addressId,description,id,name,ownerId,phone", h.keys(s))
    assert.equal("My Store", s.name)
    assert.equal("Best store in town", s.description)
    assert.equal("+919876543210", s.phone) -- the login's rule and stored form
    assert.equal(owner.user.id, s.ownerId)
    local row = h.must_psql(srv.env.DATABASE_URL, ([[
      SELECT s.owner_id, a.city, a.postal_code, a.latitude FROM stores s
        JOIN addresses a ON a.id = s.address_id WHERE s.id = %d AND a.id = %d]])
      :format(s.id, s.addressId))
    assert.equal(("%d|CityName|123456|12.3456"):format(owner.user.id), (row:gsub("%s+$", "")))
  end)

  it("returns a store with its address, 404 when missing or deleted", function()
    local s = create(srv, owner.accessToken, body{ name = "Corner shop" }).json.store
    local res = srv:request{ path = "/store/" .. s.id }
    assert.equal(200, res.status, res.body)
    local got = res.json.store
    assert.equal(s.id, got.id)
    assert.equal("Corner shop", got.name)
    assert.equal(s.addressId, got.address.id)
    assert.equal("123 Main St", got.address.street)
    assert.equal("StateName", got.address.state)
    assert.equal("123456", got.address.postalCode)
    assert.equal(78.9012, got.address.longitude)
    h.assert_error_envelope(srv:request{ path = "/store/999999999" }, 404, "NOT_FOUND")
    h.must_psql(srv.env.DATABASE_URL, "UPDATE stores SET deleted_at = now() WHERE id = " .. s.id)
    h.assert_error_envelope(srv:request{ path = "/store/" .. s.id }, 404, "NOT_FOUND")
    assert.equal("id:type", failures(srv:request{ path = "/store/abc" }))
    assert.equal("id:minimum", failures(srv:request{ path = "/store/0" }))
  end)

  it("lists every failing field at once", function()
    local res = create(srv, owner.accessToken, {
      name = "", phone = 12, extra = true,
      address = { street = "1 Road", city = "   ", latitude = 90.5, longitude = -180.1,
                  country = "IN" },
    })
    assert.equal("address.city:pattern address.latitude:maximum address.longitude:minimum "
      .. "address.postalCode:required address.state:required extra:additionalProperties "
      .. "name:minLength name:pattern phone:type", failures(res))
  end)

  it("counts the name's length in characters, not bytes", function()
    local ok = create(srv, owner.accessToken, body{ name = ("é"):rep(120) })
    assert.equal(201, ok.status, ok.body)
    assert.equal(("é"):rep(120), ok.json.store.name)
    assert.equal("name:maxLength", failures(create(srv, owner.accessToken,
      body{ name = ("é"):rep(121) })))
  end)

  it("refuses a phone the login would refuse, and takes none", function()
    local res = create(srv, owner.accessToken, body{ phone = "12345" })
    assert.equal("phone:format", failures(res))
    local none = create(srv, owner.accessToken, body{ phone = cjson.null })
    assert.equal(201, none.status, none.body)
    assert.equal(cjson.null, none.json.store.phone)
  end)

  it("refuses bodies that are not a JSON object", function()
    h.assert_error_envelope(create(srv, owner.accessToken, "{not json"), 400, "INVALID_JSON")
    assert.equal(":type", failures(create(srv, owner.accessToken, "[1,2]")))
  end)

  it("lets only store owners and admins create stores", function()
    h.assert_error_envelope(create(srv, nil, body()), 401, "UNAUTHORIZED")
    local customer = srv:sign_in("CUSTOMER")
    h.assert_error_envelope(create(srv, customer.accessToken, body()), 403, "FORBIDDEN")
    local p = h.phone()
    local first = srv:sign_in(nil, p)
    h.must_psql(srv.env.DATABASE_URL,
      "UPDATE users SET role = 'ADMIN' WHERE id = " .. first.user.id)
    local admin = srv:sign_in(nil, p)
    assert.equal("ADMIN", admin.user.role)
    local res = create(srv, admin.accessToken, body())
    assert.equal(201, res.status, res.body)
    assert.equal(admin.user.id, res.json.store.ownerId)
  end)

  it("replays a retried create byte for byte and creates one store", function()
    local key = h.uniq("store")
    local first = create(srv, owner.accessToken, body{ name = "Once" }, key)
    assert.equal(201, first.status, first.body)
    local again = create(srv, owner.accessToken, body{ name = "Once" }, key)
    assert.equal(201, again.status)
    assert.equal("true", again.headers["idempotent-replayed"])
    assert.equal(first.body, again.body)
    local other = create(srv, owner.accessToken, body{ name = "Twice" }, key)
    h.assert_error_envelope(other, 422, "IDEMPOTENCY_MISMATCH")
    assert.equal(1, count(srv, ("SELECT count(*) FROM stores WHERE owner_id = %d AND name = 'Once'")
      :format(owner.user.id)))
  end)

  it("creates exactly one store from 10 concurrent creates with one key", function()
    local who = srv:sign_in("STORE_OWNER")
    local key = h.uniq("burst")
    local list = {}
    for i = 1, 10 do
      list[i] = { method = "POST", path = "/store", body = cjson.encode(body{ name = "Burst" }),
        headers = { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key,
                    Authorization = "Bearer " .. who.accessToken } }
    end
    local created, replayed, in_flight = 0, 0, 0
    for _, res in ipairs(srv:requests_at_once(list)) do
      if res.status == 201 and res.headers["idempotent-replayed"] then
        replayed = replayed + 1
      elseif res.status == 201 then
        created = created + 1
      else
        h.assert_error_envelope(res, 409, "IDEMPOTENCY_IN_FLIGHT")
        in_flight = in_flight + 1
      end
    end
    assert.equal(1, created)
    assert.equal(10, created + replayed + in_flight)
    assert.equal(1, count(srv, "SELECT count(*) FROM stores WHERE owner_id = " .. who.user.id))
  end)
end)
