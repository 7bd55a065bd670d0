-- GET /openapi.json (issue #16): the OpenAPI 3.1 document of the live generation's routes,
-- built from what each route declares, checked by a real validator
-- (@apidevtools/swagger-parser, spec/tools/openapi_check.js) and rebuilt by a reload.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local CHECK = h.root .. "/spec/tools/openapi_check.js"

local function document(srv)
  local res = srv:request{ path = "/openapi.json" }
  assert.equal(200, res.status, res.body:sub(1, 300))
  assert.equal("application/json", res.headers["content-type"])
  return res.json, res.body
end

-- The validator's verdict on the document's bytes.
local function validate(body)
  local file = h.tmpdir("openapi") .. "/openapi.json"
  h.write_file(file, body)
  local code, out = h.run({ "node", CHECK, file })
  assert.equal(0, code, out)
  return assert(cjson.decode(out:match("{.*}")), out)
end

describe("GET /openapi.json", function()
  local srv, dir

  setup(function()
    dir = h.copy_scripts("scripts")
    srv = h.start_app{ scripts = dir }
  end)
  teardown(function() if srv then srv:stop() end end)

  it("is a valid OpenAPI 3.1 document of the application's routes", function()
    local doc, body = document(srv)
    assert.equal("3.1.0", doc.openapi)
    local verdict = validate(body)
    assert.is_true(verdict.valid, verdict.error)
    assert.truthy(doc.paths["/otp/send"].post)
    assert.truthy(doc.paths["/user/me"].get)
    assert.truthy(doc.paths["/user/me"].patch)
    assert.is_nil(doc.paths["/readyz"]) -- the host's own routes are not the API
  end)

  it("describes a route's auth, schemas and idempotency", function()
    local doc = document(srv)
    local create = doc.paths["/store"].post
    assert.equal("Create a store", create.summary)
    assert.same({ "stores" }, create.tags)
    assert.same({ { bearer = {} } }, create.security)
    assert.equal("http", doc.components.securitySchemes.bearer.type)
    assert.truthy(create.description:find("STORE_OWNER, ADMIN", 1, true))
    for _, status in ipairs { "400", "401", "403", "409", "422" } do
      assert.equal("#/components/schemas/Error",
        create.responses[status].content["application/json"].schema["$ref"], status)
    end
    local body = create.requestBody.content["application/json"].schema
    assert.same({ "name", "address" }, body.required)
    assert.is_false(body.additionalProperties)
    assert.equal(120, body.properties.name.maxLength)
    assert.same({ "string", "null" }, body.properties.description.type)
    assert.equal(90, body.properties.address.properties.latitude.maximum)
    local key
    for _, p in ipairs(create.parameters) do
      if p.name == "Idempotency-Key" then key = p end
    end
    assert.equal("header", key["in"])
    assert.equal(255, key.schema.maxLength)

    local get = doc.paths["/store/{id}"].get
    assert.is_nil(get.security)
    assert.is_nil(get.requestBody)
    assert.equal("id", get.parameters[1].name)
    assert.equal("path", get.parameters[1]["in"])
    assert.is_true(get.parameters[1].required)
    assert.equal("integer", get.parameters[1].schema.type)
    assert.truthy(get.responses["400"])
    assert.is_nil(get.responses["401"])
  end)

  it("changes on reload with the routes", function()
    local before = document(srv)
    assert.is_nil(before.paths["/store/{id}/hours"])
    h.write_file(dir .. "/routes/hours.lua", [[
local app = require "speezy.app"
app.get("/store/:id/hours", { summary = "Opening hours", deprecated = true,
  params = { type = "object", properties = { id = { type = "integer", minimum = 1 } } },
  query = { type = "object", properties = { day = { type = "string",
    enum = { "mon", "tue" } } } } }, function() return 200, {} end)
app.get("/store/:id/hours/:day", function() return 200, {} end)
app.route("PURGE", "/store/:id/cache", function() return 200, {} end)
]])
    h.write_file(dir .. "/app.lua", h.read_file(dir .. "/app.lua") .. 'require "routes.hours"\n')
    srv:reload()
    local after, body = document(srv)
    assert.is_true(validate(body).valid)
    local op = after.paths["/store/{id}/hours"].get
    assert.equal("Opening hours", op.summary)
    local names = {}
    for _, p in ipairs(op.parameters) do names[#names + 1] = p["in"] .. ":" .. p.name end
    assert.same({ "path:id", "query:day" }, names)
    assert.is_true(op.deprecated)
    assert.same({ type = "integer", minimum = 1 }, op.parameters[1].schema)
    -- a :name no schema declares is a string; a method OpenAPI has no field for is left out
    local day = after.paths["/store/{id}/hours/{day}"].get.parameters
    assert.same({ "id", "day" }, { day[1].name, day[2].name })
    assert.equal("string", day[2].schema.type)
    assert.is_nil(after.paths["/store/{id}/cache"])
    assert.are_not.equal(before.info.version, after.info.version)
  end)
end)
