-- The OTP core (issue #15, item 2) and the client's address (item 3) through the real binary
-- and the harness' Redis: speezy.otp's issue, verify and normalize (host/otp.c, the Redis
-- scripts host/otp/send.lua and verify.lua), and req.ip behind TRUSTED_PROXIES
-- (host/netaddr.c). Routes: spec/fixtures/scripts/otp_core, whose requests may shorten the
-- limits' windows so that a window's end is reached without waiting minutes.
--
-- Times: Redis' clock (TIME) and the spec's (h.now_ms) are the same machine's wall clock, so a
-- retry_after_ms the server computes must lie between the bounds the spec's own readings
-- before and after each request give; nothing here bounds how long anything takes.
local h = require "spec.helpers"

local SCRIPTS = "spec/fixtures/scripts/otp_core"
local SECRET = "otp-core-spec-secret-0123456789abcdef"
local EX_CONFIG = 78

-- Phones and client addresses no other test of the run has used (the harness' Redis keeps the
-- limits' logs for up to an hour).
local seq = math.floor(h.now_ms()) % 100000
local function phone()
  seq = seq + 1
  return ("9%09d"):format(seq * 7919 % 1000000000) -- national form, first digit 9
end
local function e164(national) return "+91" .. national end
local function ip()
  seq = seq + 1
  return ("10.%d.%d.%d"):format(seq % 250 + 1, math.floor(seq / 250) % 250, seq % 7 + 1)
end

-- limits with every limit out of the way but those given
local function only(over)
  local l = { cooldown = 0, per_phone_ip = { max = 1000, window = 600 },
              per_phone = { max = 1000, window = 600 }, per_ip = { max = 1000, window = 600 } }
  for k, v in pairs(over or {}) do l[k] = v end
  return l
end

local function issue(srv, p, o)
  o = o or {}
  return srv:post_json("/issue", { phone = p, ip = o.ip, limits = o.limits })
end

local function issued(srv, p, o)
  local res = issue(srv, p, o)
  assert.equal(200, res.status, res.body)
  return res.json
end

local function verify(srv, p, code)
  return srv:post_json("/verify", { phone = p, code = code })
end

-- Asserts a 429 RATE_LIMITED naming limit; returns its details.
local function refused(res, limit)
  local j = h.assert_error_envelope(res, 429, "RATE_LIMITED")
  assert.equal(limit, j.error.details.limit, res.body)
  return j.error.details
end

-- A 6-digit code other than code.
local function other_than(code)
  return ("%06d"):format((tonumber(code) + 1) % 1000000)
end

-- HMAC-SHA256(secret, phone "\0" code) by OpenSSL's command line, not by the host.
local function hmac_hex(p, code)
  local file = h.tmpdir("hmac") .. "/msg"
  h.write_file(file, p .. "\0" .. code)
  local rc, out = h.run({ "openssl", "dgst", "-sha256", "-hmac", SECRET, "-r", file })
  assert.equal(0, rc, out)
  return out:match("^(%x+)")
end

local function hgetall(key)
  local out = h.redis_cli("HGETALL", key)
  local t, lines = {}, {}
  for line in (out .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  for i = 1, #lines - 1, 2 do t[lines[i]] = lines[i + 1] end
  return t
end

describe("otp core", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { WORKERS = "2", OTP_SECRET = SECRET } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  describe("phones", function()
    it("normalizes the seed's 10-digit numbers and E.164 to one form", function()
      for input, want in pairs({
        ["9876543210"] = "+919876543210", ["+919876543210"] = "+919876543210",
        ["+91 98765-43210"] = "+919876543210", ["(987) 654 3210"] = "+919876543210",
        ["+1 (415) 555-0123"] = "+14155550123",
      }) do
        local res = srv:request{ path = "/normalize?phone=" .. input:gsub("[^%w]", function(c)
          return ("%%%02X"):format(c:byte())
        end) }
        assert.equal(200, res.status, input .. ": " .. res.body)
        assert.equal(want, res.json.phone, input)
      end
    end)

    it("refuses anything else with VALIDATION_FAILED naming the phone", function()
      for _, input in ipairs({ "", "12345", "0987654321", "5876543210", "98765432101",
        "++919876543210", "+91987654321", "98765o3210", "+0123456789", "+1234567890123456" }) do
        local res = srv:request{ path = "/normalize?phone=" .. input:gsub("%+", "%%2B") }
        local j = h.assert_error_envelope(res, 400, "VALIDATION_FAILED")
        assert.equal("phone", j.error.details.field, input)
      end
      local res = srv:post_json("/issue", { phone = 9876543210 }) -- a JSON number
      assert.equal("phone", h.assert_error_envelope(res, 400, "VALIDATION_FAILED").error
        .details.field)
      res = srv:post_json("/verify", { code = "123456" })
      assert.equal("phone", h.assert_error_envelope(res, 400, "VALIDATION_FAILED").error
        .details.field)
    end)

    it("gives both forms of a number one code and one set of limits", function()
      local p = phone()
      local sent = issued(srv, p, { limits = only{ cooldown = 30 } })
      assert.equal(e164(p), sent.phone)
      -- the other form of the same number: the same cooldown
      refused(issue(srv, "+91 " .. p:sub(1, 5) .. " " .. p:sub(6), { limits = only{
        cooldown = 30 } }), "cooldown")
      local res = verify(srv, "+91-" .. p, sent.code)
      assert.equal(200, res.status, res.body)
    end)
  end)

  describe("issue", function()
    it("answers the code and its ttl, and keeps only its HMAC in Redis", function()
      local p = phone()
      local sent = issued(srv, p)
      assert.equal(e164(p), sent.phone)
      assert.truthy(sent.code:match("^%d%d%d%d%d%d$"), sent.code)
      assert.equal(120, sent.ttl)
      local key = "otp:code:" .. e164(p)
      local stored = hgetall(key)
      assert.same({ h = hmac_hex(e164(p), sent.code), left = "5" }, stored)
      local pttl = tonumber(h.redis_cli("PTTL", key))
      assert.truthy(pttl > 100000 and pttl <= 120000, "PTTL " .. pttl)
    end)

    it("replaces the phone's previous code with a new one", function()
      local p = phone()
      local first = issued(srv, p, { limits = only() })
      local second
      repeat second = issued(srv, p, { limits = only() }) until second.code ~= first.code
      h.assert_error_envelope(verify(srv, p, first.code), 401, "OTP_INVALID")
      assert.equal(200, verify(srv, p, second.code).status)
    end)

    it("works after Redis forgot its scripts (SCRIPT FLUSH)", function()
      local p = phone()
      issued(srv, p, { limits = only() })
      h.redis_cli("SCRIPT", "FLUSH")
      local sent = issued(srv, p, { limits = only() })
      h.redis_cli("SCRIPT", "FLUSH")
      assert.equal(200, verify(srv, p, sent.code).status)
    end)

    it("raises on limits a script got wrong, naming the field and the script's line", function()
      local res = srv:post_json("/issue_raw", { phone = phone(), limits = { ttl = 120 } })
      h.assert_error_envelope(res, 500, "INTERNAL")
      assert(h.eventually(function()
        return srv:logs():find("app.lua:%d+: otp.issue: limits.attempts must be")
      end, 5000), srv:log_tail())
      res = srv:post_json("/issue_raw", { phone = phone(), limits = only{ ttl = 0, attempts = 5 } })
      h.assert_error_envelope(res, 500, "INTERNAL")
      assert(h.eventually(function()
        return srv:logs():find("otp.issue: limits.ttl must be a number of seconds of at least")
      end, 5000), srv:log_tail())
    end)
  end)

  describe("verify", function()
    it("accepts the right code once: a used code fails the second time", function()
      local p = phone()
      local sent = issued(srv, p)
      local res = verify(srv, p, sent.code)
      assert.equal(200, res.status, res.body)
      assert.is_true(res.json.verified)
      h.assert_error_envelope(verify(srv, p, sent.code), 401, "OTP_INVALID")
      assert.equal("0", h.redis_cli("EXISTS", "otp:code:" .. e164(p)))
    end)

    it("survives 4 wrong codes, and the right one still works", function()
      local p = phone()
      local sent = issued(srv, p)
      for _ = 1, 4 do
        h.assert_error_envelope(verify(srv, p, other_than(sent.code)), 401, "OTP_INVALID")
      end
      assert.equal("1", hgetall("otp:code:" .. e164(p)).left)
      assert.equal(200, verify(srv, p, sent.code).status)
    end)

    it("kills the code after 5 wrong ones: the right one then fails too", function()
      local p = phone()
      local sent = issued(srv, p)
      for _ = 1, 5 do
        h.assert_error_envelope(verify(srv, p, other_than(sent.code)), 401, "OTP_INVALID")
      end
      assert.equal("0", h.redis_cli("EXISTS", "otp:code:" .. e164(p)))
      h.assert_error_envelope(verify(srv, p, sent.code), 401, "OTP_INVALID")
    end)

    it("gives one answer for wrong, dead, expired and never-sent codes", function()
      local p = phone()
      local sent = issued(srv, p, { limits = only{ ttl = 0.3 } })
      local wrong = verify(srv, p, other_than(sent.code))
      h.sleep(600)
      local expired = verify(srv, p, sent.code)
      local never = verify(srv, phone(), "123456")
      for _, res in ipairs({ wrong, expired, never }) do
        local j = h.assert_error_envelope(res, 401, "OTP_INVALID")
        assert.equal("the code is wrong or has expired", j.error.message)
      end
    end)

    it("refuses a code that is not 6 digits without counting it", function()
      local p = phone()
      local sent = issued(srv, p, { limits = only{ attempts = 1 } })
      for _, code in ipairs({ "12345", "1234567", "12a456", " 12345", "" }) do
        local j = h.assert_error_envelope(verify(srv, p, code), 400, "VALIDATION_FAILED")
        assert.equal("code", j.error.details.field, code)
      end
      local res = srv:post_json("/verify", { phone = p, code = tonumber(sent.code) })
      h.assert_error_envelope(res, 400, "VALIDATION_FAILED")
      assert.equal(200, verify(srv, p, sent.code).status) -- attempts = 1: none was counted
    end)

    it("lets a code expire with its ttl", function()
      local p = phone()
      local before = h.now_ms()
      local sent = issued(srv, p, { limits = only{ ttl = 0.4 } })
      assert.equal(0.4, sent.ttl)
      local pttl = tonumber(h.redis_cli("PTTL", "otp:code:" .. e164(p)))
      assert.truthy(pttl > 0 and pttl <= 400, "PTTL " .. pttl)
      h.sleep(math.max(0, before + 400 - h.now_ms()) + 150)
      h.assert_error_envelope(verify(srv, p, sent.code), 401, "OTP_INVALID")
    end)

    for _, n in ipairs({ 2, 10 }) do
      it(("lets exactly one of %d concurrent verifies of one code succeed"):format(n), function()
        local p = phone()
        local sent = issued(srv, p)
        local list = {}
        for i = 1, n do
          list[i] = { method = "POST", path = "/verify", headers = {
            ["Content-Type"] = "application/json" },
            body = ('{"phone":"%s","code":"%s"}'):format(p, sent.code) }
        end
        local ok, invalid = 0, 0
        for _, res in ipairs(srv:requests_at_once(list)) do
          if res.status == 200 then ok = ok + 1 end
          if res.status == 401 and res.json.error.code == "OTP_INVALID" then
            invalid = invalid + 1
          end
        end
        assert.equal(1, ok)
        assert.equal(n - 1, invalid)
      end)
    end
  end)

  describe("limits", function()
    -- n sends that pass; returns the spec's clock before the first and after the last
    local function pass(n, p_of, o_of)
      local first, last
      for i = 1, n do
        local t = h.now_ms()
        first = first or t
        issued(srv, p_of(i), o_of(i))
        last = h.now_ms()
      end
      return first, last
    end

    -- the refusal's wait: retry_after_ms within what the sends' and the refusal's times
    -- allow, retry_after those ms in whole seconds rounded up
    local function assert_wait(d, counted_at, window_ms, asked_from, asked_to)
      local lo = counted_at.from + window_ms - asked_to - 1
      local hi = counted_at.to + window_ms - asked_from + 1
      assert.truthy(d.retry_after_ms >= lo and d.retry_after_ms <= hi,
        ("retry_after_ms %s not within [%d, %d]"):format(d.retry_after_ms, lo, hi))
      assert.truthy(d.retry_after_ms <= window_ms, "longer than the window")
      assert.equal(math.ceil(d.retry_after_ms / 1000), d.retry_after)
    end

    it("cooldown: one send per phone per 30 s, whatever the address", function()
      local p = phone()
      local t0 = h.now_ms()
      issued(srv, p, { ip = ip(), limits = only{ cooldown = 30 } })
      local t1 = h.now_ms()
      local res = issue(srv, p, { ip = ip(), limits = only{ cooldown = 30 } })
      local d = refused(res, "cooldown")
      assert_wait(d, { from = t0, to = t1 }, 30000, t1, h.now_ms())
      assert.equal(30, d.retry_after)
      issued(srv, phone(), { limits = only{ cooldown = 30 } }) -- per phone
    end)

    it("per_phone_ip: 3 sends per phone and address per 10 minutes", function()
      local p, addr = phone(), ip()
      local lim = only{ per_phone_ip = { max = 3, window = 600 } }
      local from, to = pass(3, function() return p end, function() return { ip = addr,
        limits = lim } end)
      local asked = h.now_ms()
      local d = refused(issue(srv, p, { ip = addr, limits = lim }), "per_phone_ip")
      assert_wait(d, { from = from, to = to }, 600000, asked, h.now_ms())
      assert.equal(600, d.retry_after)
      issued(srv, p, { ip = ip(), limits = lim })    -- the same phone from another address
      issued(srv, phone(), { ip = addr, limits = lim }) -- another phone from this address
    end)

    it("per_phone: 5 sends per phone per hour, across addresses", function()
      local p = phone()
      local lim = only{ per_phone = { max = 5, window = 3600 } }
      local from, to = pass(5, function() return p end, function() return { ip = ip(),
        limits = lim } end)
      local asked = h.now_ms()
      local d = refused(issue(srv, p, { ip = ip(), limits = lim }), "per_phone")
      assert_wait(d, { from = from, to = to }, 3600000, asked, h.now_ms())
      assert.equal(3600, d.retry_after)
      issued(srv, phone(), { limits = lim })
    end)

    it("per_ip: 20 sends per address per 10 minutes, across phones", function()
      local addr = ip()
      local lim = only{ per_ip = { max = 20, window = 600 } }
      local from, to = pass(20, function() return phone() end, function() return { ip = addr,
        limits = lim } end)
      local asked = h.now_ms()
      local d = refused(issue(srv, phone(), { ip = addr, limits = lim }), "per_ip")
      assert_wait(d, { from = from, to = to }, 600000, asked, h.now_ms())
      assert.equal(600, d.retry_after)
      issued(srv, phone(), { ip = ip(), limits = lim })
    end)

    it("names the limit with the longest wait when several refuse", function()
      local p, addr = phone(), ip()
      local lim = only{ cooldown = 30, per_phone_ip = { max = 1, window = 600 },
                        per_ip = { max = 1, window = 90 } }
      issued(srv, p, { ip = addr, limits = lim })
      local d = refused(issue(srv, p, { ip = addr, limits = lim }), "per_phone_ip")
      assert.equal(600, d.retry_after)
    end)

    it("slides: a send passes again the moment the oldest counted one is a window old",
      function()
        local p = phone()
        local lim = only{ per_phone = { max = 2, window = 1.2 } }
        local a0 = h.now_ms()
        issued(srv, p, { limits = lim })
        local a1 = h.now_ms()
        h.sleep(400)
        local b0 = h.now_ms()
        issued(srv, p, { limits = lim })
        local b1 = h.now_ms()
        local asked = h.now_ms()
        local d = refused(issue(srv, p, { limits = lim }), "per_phone")
        assert_wait(d, { from = a0, to = a1 }, 1200, asked, h.now_ms())
        -- once the first send is 1.2 s old, one more fits; then the second one is the oldest
        h.sleep(math.max(0, a1 + 1200 - h.now_ms()) + 5)
        local c0 = h.now_ms()
        issued(srv, p, { limits = lim })
        local c1 = h.now_ms()
        asked = h.now_ms()
        d = refused(issue(srv, p, { limits = lim }), "per_phone")
        assert_wait(d, { from = b0, to = b1 }, 1200, asked, h.now_ms())
        assert.truthy(c1 >= c0)
      end)

    it("does not count refused sends: retrying early does not push the wait further",
      function()
        local p, addr = phone(), ip()
        local lim = only{ per_phone_ip = { max = 2, window = 1 } }
        local from, to = pass(2, function() return p end, function() return { ip = addr,
          limits = lim } end)
        -- retries well inside the window: each one's wait still ends a window after the
        -- first send, and once it has, the window is as free as at first
        h.sleep(300)
        for _ = 1, 3 do
          local asked = h.now_ms()
          local d = refused(issue(srv, p, { ip = addr, limits = lim }), "per_phone_ip")
          assert_wait(d, { from = from, to = to }, 1000, asked, h.now_ms())
        end
        h.sleep(math.max(0, to + 1000 - h.now_ms()) + 5)
        pass(2, function() return p end, function() return { ip = addr, limits = lim } end)
        refused(issue(srv, p, { ip = addr, limits = lim }), "per_phone_ip")
      end)
  end)

  describe("the client's address", function()
    it("is the peer: X-Forwarded-For from an untrusted peer is ignored", function()
      local res = srv:request{ path = "/ip", headers = { ["X-Forwarded-For"] = "203.0.113.9" } }
      assert.equal(200, res.status, res.body)
      assert.equal("127.0.0.1", res.json.ip)
      -- so a client can't escape the per-address limit by naming another address (the
      -- sends of the tests before, keyed on 127.0.0.1 too, are forgotten first)
      h.redis_cli("DEL", "otp:per_ip:127.0.0.1")
      local function send(addr)
        return srv:request{ method = "POST", path = "/issue", headers = {
          ["Content-Type"] = "application/json", ["X-Forwarded-For"] = addr },
          body = ('{"phone":"%s","limits":{"per_ip":{"max":1,"window":600}}}'):format(phone()) }
      end
      assert.equal(200, send("198.51.100.1").status)
      refused(send("198.51.100.2"), "per_ip")
    end)
  end)
end)

describe("otp core behind a trusted proxy", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { OTP_SECRET = SECRET,
      TRUSTED_PROXIES = "127.0.0.1/32" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local function client_ip(xff)
    local res = srv:request{ path = "/ip", headers = xff }
    assert.equal(200, res.status, res.body)
    return res.json.ip
  end

  it("takes the rightmost untrusted X-Forwarded-For address, else the peer", function()
    assert.equal("203.0.113.9", client_ip({ ["X-Forwarded-For"] = "203.0.113.9" }))
    assert.equal("203.0.113.9", client_ip({ ["X-Forwarded-For"] = "198.51.100.1, 203.0.113.9" }))
    assert.equal("203.0.113.9", client_ip({ { "X-Forwarded-For", "198.51.100.1" },
      { "X-Forwarded-For", "203.0.113.9, 127.0.0.1" } }))
    assert.equal("2001:db8::7", client_ip({ ["X-Forwarded-For"] = "2001:DB8:0::7" }))
    assert.equal("127.0.0.1", client_ip({ ["X-Forwarded-For"] = "203.0.113.9:443" }))
    assert.equal("127.0.0.1", client_ip({ ["X-Forwarded-For"] = "unknown" }))
    assert.equal("127.0.0.1", client_ip({}))
  end)

  it("keys the per-address limit on that client, and logs it", function()
    local a, b = ip(), ip()
    local function send(addr)
      return srv:request{ method = "POST", path = "/issue", headers = {
        ["Content-Type"] = "application/json", ["X-Forwarded-For"] = addr },
        body = ('{"phone":"%s","limits":{"per_ip":{"max":1,"window":600}}}'):format(phone()) }
    end
    assert.equal(200, send(a).status)
    assert.equal(200, send(b).status)
    refused(send(a), "per_ip")
    assert(h.eventually(function()
      return srv:logs():find('"ip":"' .. b .. '"', 1, true)
    end, 5000), "no access line with the client's address " .. b)
  end)
end)

describe("otp core behind proxies that are not the peer", function()
  it("ignores X-Forwarded-For from a peer outside TRUSTED_PROXIES", function()
    local srv = h.start{ scripts = SCRIPTS, env = { OTP_SECRET = SECRET,
      TRUSTED_PROXIES = "10.0.0.0/8, ::1" } }
    local ok, err = pcall(function()
      local res = srv:request{ path = "/ip", headers = { ["X-Forwarded-For"] = "203.0.113.9" } }
      assert.equal(200, res.status, res.body)
      assert.equal("127.0.0.1", res.json.ip)
    end)
    srv:stop()
    assert(ok, err)
  end)
end)

describe("otp core without its backing", function()
  it("answers OTP_UNAVAILABLE while Redis can't be reached", function()
    local srv = h.start{ scripts = SCRIPTS, env = { OTP_SECRET = SECRET,
      REDIS_URL = "redis://127.0.0.1:" .. h.free_port() } }
    local ok, err = pcall(function()
      local res = issue(srv, phone())
      h.assert_error_envelope(res, 503, "OTP_UNAVAILABLE")
      res = verify(srv, phone(), "123456")
      h.assert_error_envelope(res, 503, "OTP_UNAVAILABLE")
      -- a bad phone is still the client's fault
      h.assert_error_envelope(issue(srv, "12"), 400, "VALIDATION_FAILED")
    end)
    srv:stop()
    assert(ok, err)
  end)

  it("answers OTP_UNAVAILABLE without OTP_SECRET, naming it", function()
    local srv = h.start{ scripts = SCRIPTS, env = { OTP_SECRET = false } }
    local ok, err = pcall(function()
      local j = h.assert_error_envelope(issue(srv, phone()), 503, "OTP_UNAVAILABLE")
      assert.equal("OTP_SECRET is not set", j.error.message)
    end)
    srv:stop()
    assert(ok, err)
  end)

  it("refuses to start with a TRUSTED_PROXIES entry that is not a range", function()
    for _, bad in ipairs({ "10.0.0.0/33", "127.0.0.1,proxy.local", "10.0.0.1/8", "10.0.0.0/8," }) do
      local dir = h.tmpdir("badproxies")
      local code, out = h.run({ h.bin, "serve" }, { SPEEZY_ENV = "test", TRUSTED_PROXIES = bad,
        PORT = h.free_port(), SCRIPTS_DIR = h.root .. "/" .. SCRIPTS,
        PID_FILE = dir .. "/pid" }, { cwd = dir, timeout_ms = 10000 })
      assert.equal(EX_CONFIG, code, out)
      assert.truthy(out:find("TRUSTED_PROXIES", 1, true), out)
    end
  end)
end)
