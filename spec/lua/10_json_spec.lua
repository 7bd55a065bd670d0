-- speezy.json: the response encoder and the untrusted-input decoder.
local json = require "speezy.json"

describe("json.decode", function()
  it("decodes every JSON type", function()
    local v = assert(json.decode(' {"a":1,"b":[true,false,null],"c":"x","d":-2.5e3,"e":{}} '))
    assert.equal(1, v.a)
    assert.equal(true, v.b[1])
    assert.equal(false, v.b[2])
    assert.equal(json.null, v.b[3])
    assert.equal("x", v.c)
    assert.equal(-2500, v.d)
    assert.is_table(v.e)
  end)

  it("keeps empty arrays arrays through a round trip", function()
    local out = json.encode(assert(json.decode('{"list":[],"obj":{},"nested":[[]]}')))
    assert.matches('"list":%[%]', out)
    assert.matches('"nested":%[%[%]%]', out)
    assert.matches('"obj":{}', out)
  end)

  it("unescapes strings, including surrogate pairs", function()
    assert.equal('a"b\\c/d\n\t', json.decode('"a\\"b\\\\c\\/d\\n\\t"'))
    assert.equal("\xc3\xa9", json.decode('"\\u00e9"'))
    assert.equal("\xf0\x9f\x98\x80", json.decode('"\\ud83d\\ude00"'))
    assert.equal("\0", json.decode('"\\u0000"'))
  end)

  it("refuses malformed input with a position, without raising", function()
    local bad = { "", "{", "[1,]", '{"a" 1}', "tru", "01", "1.", "-", '"\\x"', '"\\ud800"',
                  '"a\nb"', "[1] 2", "{1:2}", "1e999",
                  string.rep("[", 100) .. string.rep("]", 100) }
    for _, s in ipairs(bad) do
      local v, err = json.decode(s)
      assert.is_nil(v, "accepted " .. s)
      assert.matches("at character %d+", err)
    end
  end)
end)

describe("json.encode", function()
  it("writes integers without exponent and floats exactly", function()
    assert.equal("[1,-2,9007199254740991,0.1,3.14]", json.encode { 1, -2, 2 ^ 53 - 1, 0.1, 3.14 })
  end)

  it("escapes control characters and closing script tags", function()
    assert.equal([["a\n\u0001<\/b><\/script>"]], json.encode("a\n\1</b></script>"))
  end)

  it("escapes exactly what needs it, wherever it falls in a long string", function()
    -- The reference: one byte at a time, the way the encoder's word-at-a-time scan must agree.
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    local function reference(s)
      local out = {}
      for i = 1, #s do
        local c = s:sub(i, i)
        local b = c:byte()
        if named[c] then
          out[i] = named[c]
        elseif c == "/" and i > 1 and s:sub(i - 1, i - 1) == "<" then
          out[i] = "\\/"
        elseif b < 0x20 or b == 0x7f then
          out[i] = string.format("\\u%04x", b)
        else
          out[i] = c
        end
      end
      return '"' .. table.concat(out) .. '"'
    end
    local alphabet = {
      "a", "Z", "0", " ", "<", "/", '"', "\\", "\n", "\t", "\0", "\31", "\127", "\195\169",
    }
    math.randomseed(7)
    for _ = 1, 3000 do
      local parts = {}
      for i = 1, math.random(0, 40) do
        parts[i] = math.random(4) == 1 and alphabet[math.random(#alphabet)] or "x"
      end
      local s = table.concat(parts)
      assert.equal(reference(s), json.encode(s))
      assert.equal(s, json.decode(json.encode(s)))
    end
  end)

  it("grows its buffer for escapes anywhere in a long string", function()
    local plain = string.rep("x", 70000)
    assert.equal('"' .. plain .. '\\u0001\\"' .. '"', json.encode(plain .. "\1\""))
    assert.equal('"' .. string.rep('\\"', 50000) .. '"', json.encode(string.rep('"', 50000)))
    assert.equal('"' .. string.rep("\\u001f", 20000) .. plain .. '"',
      json.encode(string.rep("\31", 20000) .. plain))
  end)

  it("encodes json.array{} as [] and an empty table as {}", function()
    assert.equal("[]", json.encode(json.array {}))
    assert.equal("{}", json.encode {})
  end)

  it("refuses NaN, infinities, functions and cycles", function()
    assert.has_error(function() json.encode { x = 0 / 0 } end, "NaN")
    assert.has_error(function() json.encode { x = math.huge } end, "infinity")
    assert.has_error(function() json.encode { f = print } end, "cannot encode")
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end, "nested deeper")
  end)

  it("builds the success envelope with success first", function()
    assert.equal('{"success":true,"message":"hello"}', json.envelope { message = "hello" })
    assert.equal('{"success":true}', json.envelope {})
    assert.equal('{"success":true,"data":[1,2]}', json.envelope { 1, 2 })
  end)
end)
