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
    -- The length of a valid UTF-8 sequence at i (RFC 3629: no overlong forms, surrogates or
    -- code points past U+10FFFF), or nil.
    local function utf8_at(s, i)
      local b = s:byte(i)
      local len, lo, hi
      if b >= 0xc2 and b <= 0xdf then len, lo, hi = 2, 0x80, 0xbf
      elseif b == 0xe0 then len, lo, hi = 3, 0xa0, 0xbf
      elseif b == 0xed then len, lo, hi = 3, 0x80, 0x9f
      elseif b >= 0xe1 and b <= 0xef then len, lo, hi = 3, 0x80, 0xbf
      elseif b == 0xf0 then len, lo, hi = 4, 0x90, 0xbf
      elseif b == 0xf4 then len, lo, hi = 4, 0x80, 0x8f
      elseif b >= 0xf1 and b <= 0xf3 then len, lo, hi = 4, 0x80, 0xbf
      else return nil end
      local b2 = s:byte(i + 1)
      if not b2 or b2 < lo or b2 > hi then return nil end
      for j = i + 2, i + len - 1 do
        local bj = s:byte(j)
        if not bj or bj < 0x80 or bj > 0xbf then return nil end
      end
      return len
    end
    local function reference(s)
      local out, i = {}, 1
      while i <= #s do
        local c = s:sub(i, i)
        local b = c:byte()
        local n = b >= 0x80 and utf8_at(s, i)
        if n then
          out[#out + 1] = s:sub(i, i + n - 1)
          i = i + n - 1
        elseif named[c] then
          out[#out + 1] = named[c]
        elseif c == "/" and i > 1 and s:sub(i - 1, i - 1) == "<" then
          out[#out + 1] = "\\/"
        elseif b < 0x20 or b == 0x7f then
          out[#out + 1] = string.format("\\u%04x", b)
        elseif b >= 0x80 then
          out[#out + 1] = "\\ufffd"
        else
          out[#out + 1] = c
        end
        i = i + 1
      end
      return '"' .. table.concat(out) .. '"'
    end
    local alphabet = {
      "a", "Z", "0", " ", "<", "/", '"', "\\", "\n", "\t", "\0", "\31", "\127", "\195\169",
      "\226\130\172", "\240\159\146\169", "\255", "\128", "\195", "\226\130", "\224\128\128",
      "\237\160\128", "\244\144\128\128", "\192\175",
    }
    math.randomseed(7)
    for _ = 1, 3000 do
      local parts = {}
      for i = 1, math.random(0, 40) do
        parts[i] = math.random(4) == 1 and alphabet[math.random(#alphabet)] or "x"
      end
      local s = table.concat(parts)
      local want = reference(s)
      assert.equal(want, json.encode(s))
      if not want:find("\\ufffd", 1, true) then assert.equal(s, json.decode(json.encode(s))) end
    end
  end)

  it("writes valid UTF-8 only: a byte outside a valid sequence becomes U+FFFD", function()
    assert.equal('"é€💩"', json.encode("é€💩"))
    assert.equal('"a\\ufffdb"', json.encode("a\255b"))
    assert.equal('"\\ufffd\\ufffdA"', json.encode("\226\130A")) -- a cut sequence, byte by byte
    assert.equal('"\\ufffd\\ufffd\\ufffd"', json.encode("\237\160\128")) -- a surrogate
    assert.equal('"\\ufffd\\ufffd"', json.encode("\192\175")) -- an overlong '/'
    assert.equal('{"k\\ufffd":1}', json.encode { ["k\200"] = 1 })
    assert.equal("a\239\191\189b", json.decode(json.encode("a\255b")))
  end)

  it("grows its buffer for escapes anywhere in a long string", function()
    local plain = string.rep("x", 70000)
    assert.equal('"' .. plain .. '\\u0001\\"' .. '"', json.encode(plain .. "\1\""))
    assert.equal('"' .. string.rep('\\"', 50000) .. '"', json.encode(string.rep('"', 50000)))
    assert.equal('"' .. string.rep("\\u001f", 20000) .. plain .. '"',
      json.encode(string.rep("\31", 20000) .. plain))
    assert.equal('"' .. plain .. string.rep("\\ufffd", 30000) .. '"',
      json.encode(plain .. string.rep("\255", 30000)))
  end)

  it("encodes json.array{} as [] and an empty table as {}", function()
    assert.equal("[]", json.encode(json.array {}))
    assert.equal("{}", json.encode {})
  end)

  it("writes json.ordered{k1, v1, ...} as an object in that order", function()
    local t = json.ordered { "z", 1, "a", json.ordered { "y", json.null, "b", { 1, 2 } }, "m", "x" }
    assert.equal('{"z":1,"a":{"y":null,"b":[1,2]},"m":"x"}', json.encode(t))
    assert.equal("{}", json.encode(json.ordered {}))
    assert.equal(json.ordered_mt, getmetatable(t))
    assert.has_error(function() json.encode(json.ordered { 1, 2 }) end,
      "json: an ordered object's key 1 is not a string")
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
