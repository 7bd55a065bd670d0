-- speezy.schema (README "Schemas"): every rule passing and failing, every failure reported at
-- once with its field, characters counted as code points, integer vs number, nullable, extra
-- properties, query coercion and what it refuses, defaults, patterns under a match budget,
-- definitions refused with the script's file:line and the path in the definition, and the
-- JSON Schema 2020-12 form json_schema() publishes.
local schema = require "speezy.schema"
local json = require "speezy.json"

-- The failures of validating v (nil when it passed), as "field rule" strings.
local function failures(def, v, opts)
  local value, details = schema.compile(def):validate(v, opts)
  if value ~= nil then
    assert.is_nil(details)
    return nil
  end
  local out = {}
  for i, d in ipairs(details) do
    assert.is_string(d.message)
    out[i] = d.field .. " " .. d.rule
  end
  return out
end

local function passes(def, v, opts)
  local value, details = schema.compile(def):validate(v, opts)
  assert.is_nil(details, details and json.encode(details))
  return value
end

local function fails_with(def, v, expected, opts)
  assert.same(expected, failures(def, v, opts))
end

-- "spec/lua/50_schema_spec.lua:N" of the line that calls it, then what compile raises.
local function here()
  local _, where = pcall(error, "", 3)
  return (where:gsub(": $", ""))
end

local function refused(def, name)
  local ok, err = pcall(schema.compile, def, name)
  assert.is_false(ok, "compile accepted the definition")
  return err
end

describe("types", function()
  it("accept their own type and refuse every other", function()
    local samples = { string = "x", integer = 7, number = 1.5, boolean = false,
                      object = json.decode('{"a":1}'), array = json.decode("[1]") }
    for t, good in pairs(samples) do
      passes({ type = t, additionalProperties = t == "object" or nil }, good)
      for other, bad in pairs(samples) do
        local also = (t == "number" and other == "integer")
        if other ~= t and not also then
          local value, details = schema.compile({ type = t }):validate(bad)
          assert.is_nil(value, t .. " accepted a " .. other)
          assert.same({ { field = "", rule = "type", message = "must be " ..
            ({ string = "a string", integer = "an integer", number = "a number",
               boolean = "a boolean", object = "an object", array = "an array" })[t] } },
            details)
        end
      end
      fails_with({ type = t }, json.null, { " type" })
    end
  end)

  it("count 1.0 from JSON as an integer, 1.5 not, and nothing past 2^53", function()
    assert.equal(1, passes({ type = "integer" }, json.decode("1.0")))
    passes({ type = "integer" }, json.decode("-9007199254740991"))
    fails_with({ type = "integer" }, json.decode("1.5"), { " type" })
    fails_with({ type = "integer" }, json.decode("9007199254740992"), { " type" })
    fails_with({ type = "integer" }, json.decode("1e300"), { " type" })
    assert.equal(1.5, passes({ type = "number" }, json.decode("1.5")))
    passes({ type = "number" }, json.decode("1e300"))
    fails_with({ type = "number" }, 0 / 0, { " type" })
    fails_with({ type = "number" }, math.huge, { " type" })
  end)

  it("tell a JSON array from an object, empty ones too", function()
    fails_with({ type = "object" }, json.decode("[]"), { " type" })
    fails_with({ type = "object" }, json.decode('[{"a":1}]'), { " type" })
    fails_with({ type = "array" }, json.decode("{}"), { " type" })
    fails_with({ type = "array" }, json.decode('{"0":1}'), { " type" })
    passes({ type = "array" }, json.decode("[]"))
    passes({ type = "array" }, json.array())
    passes({ type = "object" }, json.decode("{}"))
    -- Lua-built values: a sequence is an array, anything else an object.
    passes({ type = "array" }, { "a", "b" })
    fails_with({ type = "object" }, { "a" }, { " type" })
  end)
end)

describe("nullable", function()
  it("lets null through with nullable = true and names null in the message otherwise", function()
    for _, t in ipairs { "string", "integer", "number", "boolean", "object", "array" } do
      assert.equal(json.null, passes({ type = t, nullable = true }, json.null))
    end
    local _, details = schema.compile({ type = "string", nullable = true }):validate(3)
    assert.equal("must be a string or null", details[1].message)
  end)

  it("counts a null property as present for required, and checks its type", function()
    local def = { type = "object", required = { "a", "b" }, properties = {
      a = { type = "string", nullable = true }, b = { type = "string" } } }
    passes(def, json.decode('{"a":null,"b":"x"}'))
    fails_with(def, json.decode('{"a":null,"b":null}'), { "b type" })
  end)
end)

describe("strings", function()
  it("count minLength and maxLength in characters, not bytes", function()
    local def = { type = "string", minLength = 3, maxLength = 3 }
    passes(def, "abc")
    passes(def, ("\xc3\xa9"):rep(3))               -- é x 3: 6 bytes, 3 characters
    passes(def, "a\xf0\x9f\x98\x80b")              -- an emoji is one character
    passes({ type = "string", maxLength = 1 }, "\xf0\x9f\x98\x80")
    fails_with(def, ("\xf0\x9f\x98\x80"):rep(4), { " maxLength" })
    fails_with(def, "\xc3\xa9\xc3\xa9", { " minLength" })
    fails_with({ type = "string", minLength = 1 }, "", { " minLength" })
    local _, details = schema.compile(def):validate("ab")
    assert.equal("must be at least 3 characters", details[1].message)
    _, details = schema.compile({ type = "string", maxLength = 1 }):validate("ab")
    assert.equal("must be at most 1 character", details[1].message)
  end)

  it("refuse text that is not valid UTF-8, with the utf8 rule", function()
    for _, bad in ipairs { "ab\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80" } do
      local value, details = schema.compile({ type = "string", maxLength = 100 }):validate(bad)
      assert.is_nil(value)
      assert.same({ { field = "", rule = "utf8", message = "must be valid UTF-8 text" } }, details)
    end
  end)

  it("check enum", function()
    local def = { type = "string", enum = { "HOME", "WORK" } }
    passes(def, "WORK")
    fails_with(def, "home", { " enum" })
    local _, details = schema.compile(def):validate("X")
    assert.equal("must be one of HOME, WORK", details[1].message)
  end)

  it("check pattern, unanchored unless the pattern anchors", function()
    passes({ type = "string", pattern = "^[0-9]{6}$" }, "560001")
    fails_with({ type = "string", pattern = "^[0-9]{6}$" }, "56000a", { " pattern" })
    passes({ type = "string", pattern = "[0-9]" }, "abc7def")
    passes({ type = "string", pattern = "^.{2}$" }, "\xc3\xa9\xf0\x9f\x98\x80")
    local _, details = schema.compile({ type = "string", pattern = "^a$" }):validate("b")
    assert.equal("must match the pattern ^a$", details[1].message)
  end)

  it("end a catastrophic pattern on a long subject as a failed rule", function()
    local s = schema.compile({ type = "string", pattern = "^(a+)+$" })
    local value, details = s:validate(("a"):rep(5000) .. "!")
    assert.is_nil(value)
    assert.equal("pattern", details[1].rule)
    assert.matches("too long or too complex", details[1].message)
    assert.equal(("a"):rep(40), s:validate(("a"):rep(40)))
  end)
end)

describe("numbers", function()
  it("check minimum, maximum and their exclusive forms", function()
    local def = { type = "number", minimum = -90, maximum = 90 }
    passes(def, -90)
    passes(def, 90)
    fails_with(def, 90.5, { " maximum" })
    fails_with(def, -91, { " minimum" })
    local _, details = schema.compile(def):validate(91)
    assert.equal("must be at most 90", details[1].message)
    local x = { type = "integer", exclusiveMinimum = 0, exclusiveMaximum = 10 }
    passes(x, 1)
    passes(x, 9)
    fails_with(x, 0, { " exclusiveMinimum" })
    fails_with(x, 10, { " exclusiveMaximum" })
  end)

  it("check enum for integers and booleans", function()
    passes({ type = "integer", enum = { 1, 2 } }, 2)
    fails_with({ type = "integer", enum = { 1, 2 } }, 3, { " enum" })
    fails_with({ type = "boolean", enum = { true } }, false, { " enum" })
  end)
end)

describe("arrays", function()
  it("check items, minItems and maxItems, naming items from 0", function()
    local def = { type = "array", items = { type = "string", maxLength = 2 }, minItems = 1,
                  maxItems = 3 }
    passes(def, json.decode('["a","bb"]'))
    fails_with(def, json.decode("[]"), { " minItems" })
    fails_with(def, json.decode('["a","b","c","d"]'), { " maxItems" })
    fails_with(def, json.decode('["a",2,"ccc"]'), { "[1] type", "[2] maxLength" })
    local _, details = schema.compile(def):validate(json.decode("[]"))
    assert.equal("must have at least 1 item", details[1].message)
  end)
end)

describe("objects", function()
  local Address = { type = "object", required = { "street", "city" }, properties = {
    street = { type = "string", minLength = 1, maxLength = 200 },
    city = { type = "string", minLength = 1 },
    latitude = { type = "number", minimum = -90, maximum = 90 },
    kind = { type = "string", enum = { "HOME", "WORK" } },
    note = { type = "string", nullable = true },
    tags = { type = "array", items = { type = "string" }, maxItems = 10 },
    code = { type = "string", pattern = "^[0-9]{6}$" } } }
  local Store = { type = "object", required = { "name", "address" }, properties = {
    name = { type = "string", minLength = 1, maxLength = 120 }, address = Address } }

  it("pass a valid value through unchanged", function()
    local v = json.decode('{"name":"Shop","address":{"street":"MG Road","city":"Pune",' ..
      '"latitude":18.5,"kind":"HOME","note":null,"tags":["a"],"code":"411001"}}')
    assert.equal(v, passes(Store, v))
  end)

  it("report every failing field at once, with its path", function()
    local v = json.decode('{"address":{"street":"","latitude":91,"kind":"X",' ..
      '"tags":["a","b",3],"code":"12","extra":1},"more":true}')
    local value, details = schema.compile(Store):validate(v)
    assert.is_nil(value)
    local got = {}
    for _, d in ipairs(details) do got[d.field .. " " .. d.rule] = d.message end
    assert.same({
      ["name required"] = "is required",
      ["address.street minLength"] = "must be at least 1 character",
      ["address.city required"] = "is required",
      ["address.latitude maximum"] = "must be at most 90",
      ["address.kind enum"] = "must be one of HOME, WORK",
      ["address.tags[2] type"] = "must be a string",
      ["address.code pattern"] = "must match the pattern ^[0-9]{6}$",
      ["address.extra additionalProperties"] = "is not allowed",
      ["more additionalProperties"] = "is not allowed",
    }, got)
    assert.equal(9, #details)
  end)

  it("refuse extra properties by default, allow them with true, check them with a schema",
    function()
      local props = { a = { type = "integer" } }
      fails_with({ type = "object", properties = props }, { a = 1, b = 2 },
        { "b additionalProperties" })
      passes({ type = "object", properties = props, additionalProperties = true }, { a = 1, b = 2 })
      local typed = { type = "object", properties = props,
                      additionalProperties = { type = "string" } }
      passes(typed, { a = 1, b = "x" })
      fails_with(typed, { a = 1, b = 2 }, { "b type" })
    end)

  it("fill a missing optional property with its default, a fresh copy each time", function()
    local def = { type = "object", properties = {
      page = { type = "integer", default = 1 },
      sort = { type = "array", items = { type = "string" }, default = json.array { "name" } },
      q = { type = "string" } } }
    local s = schema.compile(def)
    local v = s:validate({})
    assert.equal(1, v.page)
    assert.same({ "name" }, v.sort)
    assert.equal(json.array_mt, getmetatable(v.sort))
    assert.is_nil(v.q)
    v.sort[1] = "changed"
    assert.equal("name", s:validate({}).sort[1])
    assert.equal(5, s:validate({ page = 5 }).page)
  end)
end)

describe("coercion (query strings and path params)", function()
  local Query = { type = "object", properties = {
    page = { type = "integer", minimum = 1 },
    lat = { type = "number" },
    open = { type = "boolean" },
    tag = { type = "array", items = { type = "string" } },
    ids = { type = "array", items = { type = "integer" } },
    q = { type = "string" } } }

  it("turns strings into the declared type and a lone value into a list of one", function()
    local v = passes(Query, { page = "42", lat = "-1.5", open = "true", tag = "x",
                              ids = { "1", "2" }, q = "42" }, { coerce = true })
    assert.equal(42, v.page)
    assert.equal(-1.5, v.lat)
    assert.equal(true, v.open)
    assert.same({ "x" }, v.tag)
    assert.equal(json.array_mt, getmetatable(v.tag))
    assert.same({ 1, 2 }, v.ids)
    assert.equal("42", v.q)
    assert.equal(false, passes(Query, { open = "false" }, { coerce = true }).open)
    assert.equal(1, passes(Query, { page = "1.0" }, { coerce = true }).page)
  end)

  it("refuses what is not a number or a boolean, and checks the rules after", function()
    for _, bad in ipairs { "nan", "NaN", "inf", "-inf", "1e999", "0x10", " 42", "42 ", "",
                           "4.5", "1,5", "9007199254740993" } do
      fails_with(Query, { page = bad }, { "page type" }, { coerce = true })
    end
    for _, bad in ipairs { "nan", "inf", "1e999", "1.5.2" } do
      fails_with(Query, { lat = bad }, { "lat type" }, { coerce = true })
    end
    for _, bad in ipairs { "1", "yes", "TRUE", "" } do
      fails_with(Query, { open = bad }, { "open type" }, { coerce = true })
    end
    fails_with(Query, { page = "0" }, { "page minimum" }, { coerce = true })
    fails_with(Query, { ids = { "1", "x" } }, { "ids[1] type" }, { coerce = true })
  end)

  it("happens only when asked", function()
    fails_with(Query, { page = "42", open = "true", tag = "x" },
      { "open type", "page type", "tag type" })
  end)
end)

describe("compile", function()
  it("returns a compiled schema as it is, and takes one inside a definition", function()
    local s = schema.compile({ type = "string", maxLength = 2 })
    assert.equal(s, schema.compile(s))
    assert.is_true(schema.is_compiled(s))
    local outer = schema.compile({ type = "object", properties = { code = s } })
    fails_with(outer, { code = "abc" }, { "code maxLength" })
    assert.same({ type = "string", maxLength = 2 }, outer:json_schema().properties.code)
  end)

  it("is not changed by later edits to the definition", function()
    local def = { type = "string", maxLength = 2 }
    local s = schema.compile(def)
    def.maxLength = 10
    assert.is_nil(s:validate("abc"))
    assert.equal(2, s:json_schema().maxLength)
  end)

  it("refuses a mistake with the script's file:line and the path in the definition", function()
    local def = { type = "object", properties = { address = { type = "object", properties = {
      latitude = { type = "number", maximum = "90" } } } } }
    local line, ok, err = here(), pcall(schema.compile, def, "body")
    assert.is_false(ok)
    assert.equal(line .. ": schema: body.properties.address.properties.latitude.maximum " ..
      "must be a number", err)
  end)

  it("refuses unknown keywords and keywords of another type", function()
    assert.matches("^.*50_schema_spec.lua:%d+: schema: properties.name.maxLenght is not a " ..
      "known keyword$",
      refused({ type = "object", properties = { name = { type = "string", maxLenght = 3 } } }))
    assert.matches("schema: body.minimum does not apply to type string$",
      refused({ type = "string", minimum = 1 }, "body"))
  end)

  it("refuses every malformed rule", function()
    local cases = {
      { {}, "needs a type" },
      { { type = "text" }, "type must be one of string, integer" },
      { { type = "string", nullable = "yes" }, "nullable must be a boolean" },
      { { type = "string", minLength = -1 }, "minLength must be a non-negative integer" },
      { { type = "string", maxLength = 1.5 }, "maxLength must be a non-negative integer" },
      { { type = "string", minLength = 3, maxLength = 2 }, "minLength must not be greater" },
      { { type = "number", minimum = 0 / 0 }, "minimum must be a number" },
      { { type = "number", minimum = 2, maximum = 1 }, "minimum must not be greater" },
      { { type = "string", pattern = "^(ab$" },
        "pattern is not a valid regular expression: missing closing parenthesis at offset 5" },
      { { type = "string", pattern = 5 }, "pattern must be a string" },
      { { type = "string", enum = {} }, "enum must be a non-empty list" },
      { { type = "string", enum = { "a", 1 } }, "enum[1] must be a string" },
      { { type = "object", enum = { "a" } }, "enum applies to strings, numbers and booleans" },
      { { type = "array", items = "string" }, "items must be a schema table, got string" },
      { { type = "array", minItems = 2, maxItems = 1 }, "minItems must not be greater" },
      { { type = "object", properties = { "a" } }, "properties must be a table of name" },
      { { type = "object", required = { "a" } }, "required[0] names a, which is not in" },
      { { type = "object", additionalProperties = "no" },
        "additionalProperties must be a boolean or a schema" },
      { { type = "object", properties = { n = { type = "integer", default = "1" } } },
        "properties.n.default does not match the schema: must be an integer" },
      { { type = "string", maxLength = 2, default = "abc" }, "default does not match" },
    }
    for _, c in ipairs(cases) do
      local err = refused(c[1])
      assert.truthy(err:find("schema: " .. c[2], 1, true), err)
      assert.matches("^[^:]*50_schema_spec.lua:%d+: ", err)
    end
  end)
end)

describe("json_schema", function()
  -- JSON text with object keys sorted, so a whole document compares as one string.
  local function sorted_json(v)
    if type(v) ~= "table" then return json.encode(v) end
    local parts = {}
    if getmetatable(v) == json.array_mt then
      for i, x in ipairs(v) do parts[i] = sorted_json(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local names = {}
    for k in pairs(v) do names[#names + 1] = k end
    table.sort(names)
    for i, k in ipairs(names) do parts[i] = json.encode(k) .. ":" .. sorted_json(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end

  it("writes the JSON Schema 2020-12 form of every keyword", function()
    local s = schema.compile({ type = "object", required = { "name" }, description = "a store",
      properties = {
        name = { type = "string", minLength = 1, maxLength = 120, pattern = "^[A-Z]" },
        kind = { type = "string", enum = { "HOME", "WORK" }, nullable = true },
        note = { type = "string", nullable = true },
        lat = { type = "number", minimum = -90, maximum = 90 },
        n = { type = "integer", exclusiveMinimum = 0, exclusiveMaximum = 10, default = 1 },
        ok = { type = "boolean" },
        tags = { type = "array", items = { type = "string" }, minItems = 1, maxItems = 10 },
        meta = { type = "object", additionalProperties = { type = "string" } },
        free = { type = "object", additionalProperties = true },
        empty = { type = "object", properties = {} },
      } })
    local out = s:json_schema()
    assert.equal(
      '{"additionalProperties":false,"description":"a store","properties":{' ..
      '"empty":{"additionalProperties":false,"properties":{},"type":"object"},' ..
      '"free":{"additionalProperties":true,"type":"object"},' ..
      '"kind":{"enum":["HOME","WORK",null],"type":["string","null"]},' ..
      '"lat":{"maximum":90,"minimum":-90,"type":"number"},' ..
      '"meta":{"additionalProperties":{"type":"string"},"type":"object"},' ..
      '"n":{"default":1,"exclusiveMaximum":10,"exclusiveMinimum":0,"type":"integer"},' ..
      '"name":{"maxLength":120,"minLength":1,"pattern":"^[A-Z]","type":"string"},' ..
      '"note":{"type":["string","null"]},' ..
      '"ok":{"type":"boolean"},' ..
      '"tags":{"items":{"type":"string"},"maxItems":10,"minItems":1,"type":"array"}},' ..
      '"required":["name"],"type":"object"}',
      sorted_json(out))
  end)

  it("gives a fresh table each time, untouched by edits to an earlier one", function()
    local s = schema.compile({ type = "object", required = { "a" },
                               properties = { a = { type = "string" } } })
    local first = s:json_schema()
    first.properties.a.type = "integer"
    first.required[1] = "b"
    assert.equal('{"additionalProperties":false,"properties":{"a":{"type":"string"}},' ..
      '"required":["a"],"type":"object"}', sorted_json(s:json_schema()))
  end)
end)
