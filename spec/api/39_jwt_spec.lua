-- speezy.jwt through the real binary (issue #15 item 1): what jwt.sign puts in a token, and
-- jwt.verify refusing, with err.code UNAUTHORIZED and a stable err.reason, each hostile token
-- of the issue's Tests; keys and names from the config (JWT_SECRET, JWT_SECRET_PREVIOUS during
-- a rotation, picked by kid; JWT_ISSUER, JWT_AUDIENCE); no secret means sign and verify raise;
-- production refuses a short JWT_SECRET_PREVIOUS. Hostile tokens are made here, with
-- OpenSSL's command line for the HMACs, not with the code under test.
-- Routes: spec/fixtures/scripts/jwt.
local h = require "spec.helpers"
local cjson = require "cjson.safe"
local mime = require "mime"

local SCRIPTS = "spec/fixtures/scripts/jwt"
local S1 = "jwt-api-secret-one-0123456789-0123456789"
local S2 = "jwt-api-secret-two-0123456789-0123456789"
-- main.c: a refused configuration exits 78 (EX_CONFIG, README "Processes").
local EX_CONFIG = 78

local function b64url(s)
  return (mime.b64(s):gsub("+", "-"):gsub("/", "_"):gsub("=", ""))
end

local function unb64url(s)
  s = s:gsub("-", "+"):gsub("_", "/")
  return (mime.unb64(s .. ("="):rep((4 - #s % 4) % 4)))
end

-- HMAC of data under key with digest alg (sha256, sha384, sha512), raw bytes.
local function hmac(alg, key, data)
  local path = h.tmpdir("hmac") .. "/data"
  h.write_file(path, data)
  local p = assert(io.popen(("openssl dgst -%s -hmac '%s' -binary '%s'"):format(alg, key, path)))
  local mac = p:read("*a")
  p:close()
  assert(#mac >= 32, "openssl dgst gave no MAC")
  return mac
end

-- The kid speezy derives from a secret (host/jwt.h), computed independently.
local function kid_of_secret(secret)
  return b64url(hmac("sha256", secret, "speezy jwt kid"):sub(1, 8))
end

-- header.payload.signature from JSON texts (or tables), the MAC under key with alg (default
-- sha256); no key: an empty signature.
local function forge(header, payload, key, alg)
  if type(header) == "table" then header = cjson.encode(header) end
  if type(payload) == "table" then payload = cjson.encode(payload) end
  local input = b64url(header) .. "." .. b64url(payload)
  return input .. "." .. (key and b64url(hmac(alg or "sha256", key, input)) or "")
end

local function parts(token)
  local a, b, c = token:match("^([^.]*)%.([^.]*)%.([^.]*)$")
  assert(a, "not three parts: " .. token)
  return cjson.decode(unb64url(a)), cjson.decode(unb64url(b)), c
end

local function sign(srv, claims, opts)
  local res = srv:post_json("/sign", { claims = claims, opts = opts })
  assert(res.status == 200, res.status_line .. " " .. res.body)
  return res.json.token
end

local function me(srv, token)
  return srv:request{ path = "/me", headers = { Authorization = token and "Bearer " .. token } }
end

-- 401 UNAUTHORIZED with err.reason; the answer quotes no part of the token.
local function refused(srv, token, reason)
  local res = me(srv, token)
  local j = h.assert_error_envelope(res, 401, "UNAUTHORIZED")
  assert.equal(reason, j.error.details and j.error.details.reason, res.body)
  for part in (token or ""):gmatch("[^.]+") do
    if #part >= 8 then assert.falsy(res.body:find(part, 1, true), "the answer quotes the token") end
  end
  return j
end

local function now()
  return math.floor(h.now_ms() / 1000)
end

-- Claims as our tokens carry them, to be forged with changes.
local function good_claims(extra)
  local c = { sub = "u1", role = "CUSTOMER", sid = "s1", iat = now(), exp = now() + 900,
    iss = "speezy", aud = "speezy" }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

describe("speezy.jwt", function()
  local srv, kid

  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { JWT_SECRET = S1 } }
    kid = kid_of_secret(S1)
  end)

  teardown(function()
    if srv then
      srv:stop()
      assert.falsy(srv:logs():find(S1, 1, true), "the secret is in the log")
    end
  end)

  describe("sign", function()
    it("writes HS256 with our kid and fills iat, exp (900 s), iss, aud and jti", function()
      local t0 = now()
      local token = sign(srv, { sub = "u1", role = "CUSTOMER", sid = "s1" })
      local header, claims, sig = parts(token)
      assert.same({ alg = "HS256", typ = "JWT", kid = kid }, header)
      assert.equal(43, #sig)
      assert.equal("u1", claims.sub)
      assert.equal("CUSTOMER", claims.role)
      assert.equal("s1", claims.sid)
      assert.is_true(claims.iat >= t0 and claims.iat <= now())
      assert.equal(claims.iat + 900, claims.exp)
      assert.equal("speezy", claims.iss)
      assert.equal("speezy", claims.aud)
      assert.matches("^[%w_-]+$", claims.jti)
      assert.equal(22, #claims.jti)
      assert.is_false(claims.jti == parts(sign(srv, { sub = "u1" })).jti)
    end)

    it("takes opts.ttl, and keeps the registered claims it is given", function()
      local _, c = parts(sign(srv, { sub = "u1" }, { ttl = 60 }))
      assert.equal(c.iat + 60, c.exp)
      local given = { sub = "u2", iat = 1000, exp = 4000000000, iss = "speezy",
        aud = { "other", "speezy" }, jti = "mine" }
      _, c = parts(sign(srv, given))
      assert.same(given, c)
    end)

    it("raises on claims it would not verify, naming jwt.sign", function()
      local cases = {
        { { exp = "soon" }, nil, "registered claim of the token has the wrong type" },
        { { aud = { 1 } }, nil, "wrong type" },
        { { "a", "b" }, nil, "claim names must be strings" },
        { { sub = "u" }, { ttl = 0 }, "opts.ttl must be a whole number" },
        { { sub = "u" }, { ttl = 1.5 }, "opts.ttl must be a whole number" },
        { cjson.null, nil, "claims must be a table" },
      }
      for _, c in ipairs(cases) do
        local res = srv:post_json("/sign-misuse", { claims = c[1], opts = c[2] })
        assert.equal(200, res.status)
        assert.is_false(res.json.ok)
        assert.truthy(res.json.err:find("jwt.sign", 1, true), res.json.err)
        assert.truthy(res.json.err:find(c[3], 1, true), res.json.err)
        assert.truthy(res.json.err:find("app.lua:%d+:"), "not located in the script: " ..
          res.json.err)
      end
      -- unprotected, a programming error like any other: 500, the cause in the log
      local res = srv:post_json("/sign", { claims = { exp = "soon" } })
      h.assert_error_envelope(res, 500, "INTERNAL")
    end)
  end)

  describe("verify", function()
    it("gives back the claims of a token we signed", function()
      local token = sign(srv, { sub = "u1", role = "STORE_OWNER", sid = "s9", n = { 1, 2 } })
      local res = me(srv, token)
      assert.equal(200, res.status, res.body)
      local _, claims = parts(token)
      assert.same(claims, res.json.claims)
    end)

    it("refuses alg none in any case, signed or not", function()
      for _, alg in ipairs { "none", "None", "NONE" } do
        local header = { alg = alg, typ = "JWT", kid = kid }
        refused(srv, forge(header, good_claims()), "alg")
        refused(srv, forge(header, good_claims(), S1), "alg")
      end
    end)

    it("refuses HS384 and HS512 under the same secret", function()
      for _, alg in ipairs { "384", "512" } do
        local header = { alg = "HS" .. alg, typ = "JWT", kid = kid }
        refused(srv, forge(header, good_claims(), S1, "sha" .. alg), "alg")
      end
    end)

    it("refuses a header that embeds or points to a key, or is critical", function()
      local members = {
        jwk = { kty = "oct", k = b64url(S1) }, jku = "https://attacker.example/jwks.json",
        x5u = "https://attacker.example/cert.pem", x5c = { "MIIB" }, crit = { "exp" },
      }
      for name, value in pairs(members) do
        local header = { alg = "HS256", typ = "JWT", kid = kid, [name] = value }
        refused(srv, forge(header, good_claims(), S1), "header")
      end
    end)

    it("refuses a flipped signature byte, and a token of another secret", function()
      local token = sign(srv, { sub = "u1" })
      local at = #token - 20
      local flipped = token:sub(1, at - 1) .. (token:sub(at, at) == "A" and "B" or "A") ..
        token:sub(at + 1)
      refused(srv, flipped, "bad_signature")
      -- another secret behind our kid, or behind its own
      local header = { alg = "HS256", typ = "JWT", kid = kid }
      refused(srv, forge(header, good_claims(), S2), "bad_signature")
      header.kid = kid_of_secret(S2)
      refused(srv, forge(header, good_claims(), S2), "unknown_kid")
      header.kid = nil
      refused(srv, forge(header, good_claims(), S1), "unknown_kid")
      -- the forge itself is sound: with our secret it passes
      header.kid = kid
      assert.equal(200, me(srv, forge(header, good_claims(), S1)).status)
    end)

    it("refuses an expired token and one not valid yet", function()
      refused(srv, sign(srv, { sub = "u1", exp = now() - 300 }), "expired")
      refused(srv, sign(srv, { sub = "u1", nbf = now() + 300 }), "not_yet_valid")
      assert.equal(200, me(srv, sign(srv, { sub = "u1", nbf = now() - 5 })).status)
      local header = { alg = "HS256", typ = "JWT", kid = kid }
      local claims = good_claims()
      claims.exp = nil
      refused(srv, forge(header, claims, S1), "missing_exp")
    end)

    it("refuses another audience or issuer; aud may be a list holding ours", function()
      refused(srv, sign(srv, { sub = "u1", aud = "other" }), "audience")
      refused(srv, sign(srv, { sub = "u1", aud = { "a", "b" } }), "audience")
      assert.equal(200, me(srv, sign(srv, { sub = "u1", aud = { "a", "speezy" } })).status)
      refused(srv, sign(srv, { sub = "u1", iss = "other" }), "issuer")
    end)

    it("refuses malformed tokens: parts, base64, JSON, size", function()
      local token = sign(srv, { sub = "u1" })
      refused(srv, nil, "malformed") -- no Authorization at all
      refused(srv, token .. ".x", "malformed")
      refused(srv, token:match("^[^.]+%.[^.]+"), "malformed")
      refused(srv, "a.b.c", "malformed")
      refused(srv, "=" .. token, "malformed")
      local header = { alg = "HS256", typ = "JWT", kid = kid }
      refused(srv, forge(header, "[1,2]", S1), "malformed")
      refused(srv, forge(cjson.encode(header):sub(1, -2), good_claims(), S1), "malformed")
      refused(srv, forge(header, cjson.encode(good_claims()):sub(1, -2) .. ',"sub":"u2"}', S1),
        "duplicate")
      refused(srv, ("A"):rep(8193), "too_long")
    end)
  end)
end)

describe("speezy.jwt keys from the config", function()
  local servers = {}
  local function start(env)
    local srv = h.start{ scripts = SCRIPTS, env = env }
    servers[#servers + 1] = srv
    return srv
  end

  after_each(function()
    for _, srv in ipairs(servers) do srv:stop() end
    servers = {}
  end)

  it("verifies by kid during a rotation and refuses the old key after it", function()
    local old = start{ JWT_SECRET = S1 }
    local before = sign(old, { sub = "u1" })
    local rotating = start{ JWT_SECRET = S2, JWT_SECRET_PREVIOUS = S1 }
    local after = sign(rotating, { sub = "u1" })
    assert.equal(kid_of_secret(S2), (parts(after)).kid)
    assert.equal(200, me(rotating, before).status)
    assert.equal(200, me(rotating, after).status)
    refused(old, after, "unknown_kid")
    -- The previous secret's MAC under the current kid is no way in.
    refused(rotating, forge({ alg = "HS256", kid = kid_of_secret(S2) }, good_claims(), S1),
      "bad_signature")
    local done = start{ JWT_SECRET = S2 }
    refused(done, before, "unknown_kid")
    assert.equal(200, me(done, after).status)
  end)

  it("signs and checks JWT_ISSUER and JWT_AUDIENCE", function()
    local ours = start{ JWT_SECRET = S1, JWT_ISSUER = "auth.test", JWT_AUDIENCE = "app.test" }
    local default = start{ JWT_SECRET = S1 }
    local token = sign(ours, { sub = "u1" })
    local _, c = parts(token)
    assert.equal("auth.test", c.iss)
    assert.equal("app.test", c.aud)
    assert.equal(200, me(ours, token).status)
    refused(default, token, "issuer")
    refused(ours, sign(default, { sub = "u1" }), "issuer")
    refused(ours, sign(ours, { sub = "u1", aud = "speezy" }), "audience")
  end)

  it("raises in sign and verify without JWT_SECRET", function()
    local srv = start{ JWT_SECRET = false }
    local res = srv:post_json("/sign-misuse", { claims = { sub = "u1" } })
    assert.is_false(res.json.ok)
    assert.truthy(res.json.err:find("jwt.sign: JWT_SECRET is not set", 1, true), res.json.err)
    h.assert_error_envelope(me(srv, "a.b.c"), 500, "INTERNAL")
    srv:stop()
    assert.truthy(srv:logs():find("jwt.verify: JWT_SECRET is not set", 1, true), srv:logs())
  end)

  it("refuses production with a short JWT_SECRET_PREVIOUS, naming it, not printing it", function()
    local short = "previous-" .. ("x"):rep(22) -- 31 bytes
    local srv = h.start{ scripts = SCRIPTS, wait = false, env = {
      SPEEZY_ENV = "production", JWT_SECRET = S1, JWT_SECRET_PREVIOUS = short,
      OTP_SECRET = S2, ADMIN_TOKEN = false,
      DATABASE_URL = os.getenv("SPEEZY_TEST_DATABASE_URL") or "postgresql://127.0.0.1:1/none",
      REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or "redis://127.0.0.1:1" } }
    servers[#servers + 1] = srv
    local code = srv:wait_exit(5000)
    local logs = srv:logs()
    assert.equal(EX_CONFIG, code, logs)
    assert.truthy(logs:find("JWT_SECRET_PREVIOUS is too short", 1, true), logs)
    assert.falsy(logs:find(short, 1, true), "the secret's value was printed")
  end)
end)
