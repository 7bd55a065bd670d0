-- speezy.schema through the real server (issue #16 item 2; the rules one by one are in
-- spec/lua/50_schema_spec.lua): a JSON body answered 400 VALIDATION_FAILED with every failing
-- field at once, characters counted in code points after the HTTP body is decoded, query
-- strings and path params coerced to their declared types (and what coercion refuses), bytes
-- that are not UTF-8 arriving through query unescaping, a catastrophic pattern that fails its
-- rule while the worker keeps serving, the JSON Schema form, and an invalid schema refused by
-- `speezy check` and by a reload with its file:line while the old generation keeps serving.
-- Scripts: spec/fixtures/scripts/schema, schema_broken.
local h = require "spec.helpers"
local cjson = require "cjson"

local BROKEN = "spec/fixtures/scripts/schema_broken"

local function post(srv, body)
  return srv:request{ method = "POST", path = "/stores", body = body,
                      headers = { ["Content-Type"] = "application/json" } }
end

-- The details of a 400 VALIDATION_FAILED, as { ["field rule"] = message }, and their count.
local function details_of(res)
  local j = h.assert_error_envelope(res, 400, "VALIDATION_FAILED")
  local got, n = {}, 0
  for _, d in ipairs(j.error.details) do
    got[d.field .. " " .. d.rule] = d.message
    n = n + 1
  end
  return got, n
end

local function check(dir)
  return h.run({ h.bin, "check" }, { SPEEZY_ENV = "test", SCRIPTS_DIR = h.root .. "/" .. dir },
    { cwd = h.tmpdir("check") })
end

-- "app.lua:N" for the line of fixture file `path` that holds `text`.
local function where(path, text)
  local n = 0
  for line in io.lines(h.root .. "/" .. path) do
    n = n + 1
    if line:find(text, 1, true) then return "app.lua:" .. n end
  end
  error(text .. " is not in " .. path)
end

local BROKEN_SAYS = where(BROKEN .. "/app.lua", "schema.compile(") ..
  ": schema: body.properties.address.properties.latitude.maximum must be a number"

describe("speezy.schema over HTTP", function()
  local srv, dir

  setup(function()
    dir = h.copy_scripts("spec/fixtures/scripts/schema")
    srv = h.start{ scripts = dir, env = { WORKERS = "1" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  describe("a JSON body", function()
    it("passes through with its defaults filled", function()
      local res = post(srv, '{"name":"Shop","address":{"street":"MG Road","city":"Pune",' ..
        '"latitude":18.52,"note":null,"tags":["veg"],"code":"411001"}}')
      assert.equal(201, res.status, res.body)
      local a = res.json.store.address
      assert.equal("HOME", a.kind)
      assert.equal(18.52, a.latitude)
      assert.equal(cjson.null, a.note)
      assert.same({ "veg" }, a.tags)
    end)

    it("is answered 400 VALIDATION_FAILED with every failing field at once", function()
      local res = post(srv, '{"name":"","address":{"street":"x","latitude":90.5,' ..
        '"kind":"OFFICE","tags":["a",7],"code":"41100","floor":2},"owner":1}')
      local got, n = details_of(res)
      assert.same({
        ["name minLength"] = "must be at least 1 character",
        ["address.city required"] = "is required",
        ["address.latitude maximum"] = "must be at most 90",
        ["address.kind enum"] = "must be one of HOME, WORK",
        ["address.tags[1] type"] = "must be a string",
        ["address.code pattern"] = "must match the pattern ^[0-9]{6}$",
        ["address.floor additionalProperties"] = "is not allowed",
        ["owner additionalProperties"] = "is not allowed",
      }, got)
      assert.equal(8, n)
    end)

    it("counts characters, not bytes: 120 of é pass a maxLength of 120, 121 do not", function()
      local function named(name)
        return post(srv, cjson.encode{ name = name, address = { street = "s", city = "c" } })
      end
      local res = named(("\xc3\xa9"):rep(120))
      assert.equal(201, res.status, res.body)
      res = named(("\xf0\x9f\x9b\x92"):rep(120)) -- 120 emoji, 480 bytes
      assert.equal(201, res.status, res.body)
      local got = details_of(named(("\xc3\xa9"):rep(121)))
      assert.same({ ["name maxLength"] = "must be at most 120 characters" }, got)
    end)

    it("refuses an array where the object belongs, naming the root as \"\"", function()
      assert.same({ [" type"] = "must be an object" }, details_of(post(srv, "[]")))
      assert.same({ ["address type"] = "must be an object" },
        details_of(post(srv, '{"name":"a","address":[]}')))
    end)
  end)

  describe("a query string", function()
    it("is coerced to the declared types, a lone value to a list of one", function()
      local res = srv:request{ path = "/search?page=2&open=true&tag=veg" }
      assert.equal(200, res.status, res.body)
      assert.same({ page = 2, open = true, tag = { "veg" } }, res.json.query)
      res = srv:request{ path = "/search?tag=a&tag=b&open=false" }
      assert.equal(200, res.status, res.body)
      assert.same({ page = 1, open = false, tag = { "a", "b" } }, res.json.query)
    end)

    it("refuses what is not a number or a boolean, and unknown keys", function()
      for _, page in ipairs { "abc", "nan", "inf", "1e999", "1.5", "0x10", "%2042" } do
        local got = details_of(srv:request{ path = "/search?page=" .. page })
        assert.same({ ["page type"] = "must be an integer" }, got)
      end
      assert.same({ ["page minimum"] = "must be at least 1" },
        details_of(srv:request{ path = "/search?page=0" }))
      assert.same({ ["open type"] = "must be a boolean", ["sort additionalProperties"] =
        "is not allowed" }, details_of(srv:request{ path = "/search?open=yes&sort=name" }))
    end)

    it("refuses bytes that are not UTF-8 once unescaped", function()
      local res = srv:request{ path = "/search?q=a%FFa&tag=%C0%AF" }
      assert.same({ ["q utf8"] = "must be valid UTF-8 text",
                    ["tag[0] utf8"] = "must be valid UTF-8 text" }, details_of(res))
    end)

    it("fails a catastrophic pattern on a hostile value, and the worker keeps serving",
      function()
        local res = srv:request{ path = "/search?q=" .. ("a"):rep(49) .. "!" }
        local got, n = details_of(res)
        assert.equal(1, n, res.body)
        assert.matches("too long or too complex", got["q pattern"])
        res = srv:request{ path = "/search?q=aaa" }
        assert.equal(200, res.status, res.body)
        assert.equal("aaa", res.json.query.q)
      end)
  end)

  describe("path params", function()
    it("are coerced and checked", function()
      local res = srv:request{ path = "/stores/12" }
      assert.equal(200, res.status, res.body)
      assert.equal(12, res.json.params.id)
      assert.same({ ["id minimum"] = "must be at least 1" },
        details_of(srv:request{ path = "/stores/0" }))
      assert.same({ ["id type"] = "must be an integer" },
        details_of(srv:request{ path = "/stores/x12" }))
    end)
  end)

  it("publishes the JSON Schema 2020-12 form", function()
    local res = srv:request{ path = "/schema" }
    assert.equal(200, res.status, res.body)
    local body = res.json.body
    assert.equal(false, body.additionalProperties)
    assert.same({ "name", "address" }, body.required)
    local a = body.properties.address
    assert.equal(false, a.additionalProperties)
    assert.same({ "string", "null" }, a.properties.note.type)
    assert.same({ type = "string", pattern = "^[0-9]{6}$" }, a.properties.code)
    assert.same({ type = "string", enum = { "HOME", "WORK" }, default = "HOME" },
      a.properties.kind)
    assert.truthy(res.body:find('"tags":{', 1, true))
    assert.truthy(res.body:find('"items":{"type":"string"}', 1, true), res.body)
  end)

  it("refuses a reload to a broken schema with its file:line; the old one keeps serving",
    function()
      local before = srv:healthz().generation
      h.write_file(dir .. "/app.lua", h.read_file(h.root .. "/" .. BROKEN .. "/app.lua"))
      local code, out = h.run({ h.bin, "reload" }, srv.env, { cwd = srv.dir })
      assert.equal(1, code, out)
      assert.truthy(out:find(BROKEN_SAYS, 1, true), out)
      assert.equal(before, srv:healthz().generation)
      local res = srv:request{ path = "/stores/3" }
      assert.equal(200, res.status, res.body)
    end)
end)

describe("speezy check", function()
  it("refuses a broken schema, naming file:line and the path in the definition", function()
    local code, out = check(BROKEN)
    assert.equal(1, code, out)
    assert.truthy(out:find(BROKEN_SAYS, 1, true), out)
  end)

  it("accepts the valid schemas", function()
    local code, out = check("spec/fixtures/scripts/schema")
    assert.equal(0, code, out)
  end)
end)
