-- speezy.crypto inside the host (`speezy test`): each function's contract as a script sees it,
-- what it refuses as data (nil, err) and what it raises as misuse.
local crypto = require "speezy.crypto"

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

describe("speezy.crypto", function()
  describe("hashes", function()
    it("sha256 gives 32 raw bytes, sha256_hex 64 digits (FIPS 180-2)", function()
      local want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
      assert.equal(32, #crypto.sha256("abc"))
      assert.equal(want, hex(crypto.sha256("abc")))
      assert.equal(want, crypto.sha256_hex("abc"))
      assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        crypto.sha256_hex(""))
    end)

    it("hmac_sha256 is RFC 4231's, binary safe in key and data", function()
      assert.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        hex(crypto.hmac_sha256("Jefe", "what do ya want for nothing?")))
      assert.equal("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        hex(crypto.hmac_sha256(("\11"):rep(20), "Hi There")))
      assert.is_false(crypto.hmac_sha256("k\0a", "d") == crypto.hmac_sha256("k\0b", "d"))
    end)

    it("raises on what is not a string", function()
      assert.has_error(function() crypto.sha256(nil) end, "crypto.sha256: argument #1")
      assert.has_error(function() crypto.sha256(12) end, "must be a string, got number")
      assert.has_error(function() crypto.hmac_sha256("k") end, "crypto.hmac_sha256: argument #2")
    end)
  end)

  describe("random_bytes", function()
    it("gives n bytes, different each time", function()
      local a, b = crypto.random_bytes(32), crypto.random_bytes(32)
      assert.equal(32, #a)
      assert.is_false(a == b) -- 2^-256 odds of a false failure
      assert.equal("", crypto.random_bytes(0))
      assert.equal(1024, #crypto.random_bytes(1024))
    end)

    it("raises outside 0..1024 whole bytes", function()
      for _, n in ipairs { -1, 1025, 1.5, 0 / 0, math.huge, 2 ^ 53 } do
        assert.has_error(function() crypto.random_bytes(n) end, "from 0 to 1024")
      end
      assert.has_error(function() crypto.random_bytes("8") end, "from 0 to 1024")
    end)
  end)

  describe("equal", function()
    it("is true only for the same bytes, false for other lengths", function()
      assert.is_true(crypto.equal("secret", "secret"))
      assert.is_true(crypto.equal("", ""))
      assert.is_false(crypto.equal("secret", "secreT"))
      assert.is_false(crypto.equal("secret", "secret\0"))
      assert.is_false(crypto.equal("a\0b", "a\0c"))
      assert.has_error(function() crypto.equal("a", nil) end, "crypto.equal: argument #2")
    end)
  end)

  describe("base64url", function()
    it("encodes without padding in the URL alphabet, and back", function()
      assert.equal("Zm9vYmE", crypto.base64url_encode("fooba"))
      assert.equal("-_-_ABCD", crypto.base64url_encode(unhex("fbffbf001083")))
      assert.equal("", crypto.base64url_encode(""))
      assert.equal("fooba", crypto.base64url_decode("Zm9vYmE"))
      local bytes = crypto.random_bytes(100)
      assert.equal(bytes, crypto.base64url_decode(crypto.base64url_encode(bytes)))
    end)

    it("refuses padding, other characters and impossible lengths as data", function()
      for _, bad in ipairs { "Zg==", "Z+8", "Z/8", "Zg ", "A", "Zh", "Zm9v\0" } do
        local v, err = crypto.base64url_decode(bad)
        assert.is_nil(v, "accepted " .. bad)
        assert.equal("INVALID_INPUT", err.code)
        assert.matches("base64url", tostring(err))
      end
    end)
  end)

  describe("aes_gcm", function()
    local key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")

    it("opens the GCM specification's test case 16 (nonce .. ciphertext .. tag)", function()
      local sealed = unhex("cafebabefacedbaddecaf888" ..
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" ..
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" ..
        "76fc6ece0f4e1768cddf8853bb2d551b")
      local aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
      local plain = crypto.aes_gcm_open(key, sealed, aad)
      assert.equal("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" ..
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39", hex(plain))
    end)

    it("seals under a fresh nonce and opens with the same key and aad", function()
      local a = crypto.aes_gcm_seal(key, "123456", "job:42")
      local b = crypto.aes_gcm_seal(key, "123456", "job:42")
      assert.equal(12 + 6 + 16, #a)
      assert.is_false(a == b)
      assert.equal("123456", crypto.aes_gcm_open(key, a, "job:42"))
      assert.equal("123456", crypto.aes_gcm_open(key, b, "job:42"))
      assert.equal("", crypto.aes_gcm_open(key, crypto.aes_gcm_seal(key, "")))
    end)

    it("gives nil, err for another key, other aad or a changed byte", function()
      local sealed = crypto.aes_gcm_seal(key, "123456", "job:42")
      local other = crypto.random_bytes(32)
      local cases = {
        { other, sealed, "job:42" },
        { key, sealed, "job:43" },
        { key, sealed, nil },
        { key, sealed:sub(1, -2), "job:42" },
        { key, sealed:sub(1, 10), "job:42" },
        { key, sealed:sub(1, 20) .. string.char((sealed:byte(21) + 1) % 256) .. sealed:sub(22),
          "job:42" },
      }
      for i, c in ipairs(cases) do
        local v, err = crypto.aes_gcm_open(c[1], c[2], c[3])
        assert.is_nil(v, "case " .. i .. " opened")
        assert.equal("DECRYPT_FAILED", err.code)
      end
    end)

    it("raises for a key that is not 32 bytes", function()
      assert.has_error(function() crypto.aes_gcm_seal("short", "x") end, "must be 32 bytes, got 5")
      assert.has_error(function() crypto.aes_gcm_open(key .. "x", "x") end, "must be 32 bytes")
      assert.has_error(function() crypto.aes_gcm_seal(key, 5) end, "argument #2")
      assert.has_error(function() crypto.aes_gcm_seal(key, "x", {}) end, "argument #3")
    end)
  end)
end)
