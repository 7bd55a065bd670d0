-- speezy.sms, text delivery (issue #15 items 5 and 7), through the real binary: the outbox
-- adapter's JSON lines (shape, time, escaping, whole lines under concurrent sends, mode 0600),
-- the http adapter against the HTTPS stub (spec/tools/https_stub.py, /record keeps what
-- arrived): method, path, JSON body, Authorization; a provider's 500, a timeout and a TLS
-- failure as errors that name no secret; the request yielding; SMS_PROVIDER's refusals at
-- start (production refuses outbox); SMS_HTTP_AUTH out of core.setting and out of the log;
-- misuse raising with the script's file:line.
-- Scripts: spec/fixtures/scripts/sms (POST /send runs one sms.send with the fields it is
-- given), sms_toplevel (a send while loading).
local h = require "spec.helpers"
local cjson = require "cjson"
local http = require "socket.http"
local psignal = require "posix.signal"
local bit = require "bit"
local stat = require "posix.sys.stat"
local wait = require "posix.sys.wait"

local SCRIPTS = "spec/fixtures/scripts/sms"
local EX_CONFIG = 78
local DEFAULT_OUTBOX = ".run/sms-outbox.jsonl" -- README: relative to the server's working dir

-- tag-<16 random hex digits>: found in a log only if it was written there.
local function random_tag(tag)
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(8)
  f:close()
  return tag .. "-" .. bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
end

-- A fresh 6-digit code, so a log holding it can only have it from this run.
local code_seq = 0
local function fresh_code()
  code_seq = code_seq + 1
  return ("%06d"):format((math.floor(h.now_ms()) * 7 + code_seq * 7919) % 1000000)
end

-- The stub: started by the describes that need it; its ports and CA are in stub.dir.
local stub = {}

local function start_stub()
  stub.dir = h.tmpdir("stub")
  stub.pid = h.spawn({ "python3", h.root .. "/spec/tools/https_stub.py", stub.dir,
    "--max-seconds", "600" }, nil, stub.dir .. "/stub.out")
  local ports = h.eventually(function()
    local text = h.read_file(stub.dir .. "/ports.json")
    return text and cjson.decode(text)
  end, 20000, 50)
  assert(ports, "the HTTPS stub did not start:\n" .. (h.read_file(stub.dir .. "/stub.out") or ""))
  stub.https, stub.http, stub.ca = ports.https, ports.http, stub.dir .. "/ca.pem"
end

local function stop_stub()
  if not stub.pid then return end
  psignal.kill(stub.pid, psignal.SIGTERM)
  h.eventually(function() return wait.wait(stub.pid, wait.WNOHANG) == stub.pid end, 3000, 20)
  stub.pid = nil
end

-- What the stub says directly (plain HTTP from this process), decoded.
local function stub_get(path)
  local body, code = http.request(("http://127.0.0.1:%d%s"):format(stub.http, path))
  assert(code == 200, "stub " .. path .. ": " .. tostring(code))
  return cjson.decode(body)
end

-- One sms.send through the server: {ok = true} or {ok = false, code, message, status}.
local function send(srv, msg)
  local res = srv:post_json("/send", msg)
  assert(res.status == 200, "POST /send answered " .. res.status .. ": " .. res.body)
  return res.json
end

local function must_send(srv, msg)
  local r = send(srv, msg)
  assert(r.ok == true, "sms.send failed: " .. tostring(r.code) .. ": " .. tostring(r.message))
  return r
end

local function must_fail(r, code)
  assert(not r.ok, "sms.send succeeded")
  assert(r.code == code, ("expected %s, got %s: %s"):format(code, r.code, r.message))
  assert(type(r.message) == "string" and #r.message > 0, "no message")
  return r
end

-- The outbox's lines, each decoded (a line that is not one JSON object fails the test).
local function outbox_lines(path)
  local text = h.read_file(path)
  assert(text, "no outbox at " .. path)
  assert(text == "" or text:sub(-1) == "\n", "the outbox does not end with a newline")
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do
    local obj = cjson.decode(line)
    assert(type(obj) == "table", "not one JSON object per line: " .. line)
    lines[#lines + 1] = { raw = line, json = obj }
  end
  return lines
end

-- ms since the epoch as the outbox writes it: 2026-01-05T10:20:30.123Z
local function iso(ms)
  ms = math.floor(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. (".%03dZ"):format(ms % 1000)
end

-- The fixture's line holding text, as "app.lua:N".
local function where(dir, text)
  local n = 0
  for line in io.lines(h.root .. "/" .. dir .. "/app.lua") do
    n = n + 1
    if line:find(text, 1, true) then return "app.lua:" .. n end
  end
  error(text .. " is not in " .. dir .. "/app.lua")
end

-- Fails naming the value and the line of text that holds it.
local function assert_hidden(text, values, what)
  for name, value in pairs(values) do
    local at = text:find(value, 1, true)
    if at then
      local from = (text:sub(1, at):match(".*()\n") or 0) + 1
      error(("%s holds %s: %s"):format(what, name, text:sub(from, at + #value + 80)), 2)
    end
  end
end

describe("speezy.sms outbox", function()
  local srv, outbox

  setup(function()
    -- the default adapter and path of test mode
    srv = h.start{ scripts = SCRIPTS }
    outbox = srv.dir .. "/" .. DEFAULT_OUTBOX
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("appends one JSON line {to, otp, body, at} per send, as the send returns", function()
    assert.is_nil(stat.stat(srv.dir .. "/.run"), "the outbox's folder existed before")
    local code = fresh_code()
    local before = iso(h.now_ms())
    must_send(srv, { to = "+919876543210", body = "Your Speezy code is " .. code, otp = code })
    local after = iso(h.now_ms() + 1)
    -- read at once: the line is there when sms.send returns, not some time later
    local lines = outbox_lines(outbox)
    assert.equal(1, #lines)
    local at = lines[1].json.at
    assert.truthy(at:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"), at)
    assert(before <= at and at <= after, ("at %s is not between %s and %s"):format(at, before,
      after))
    assert.equal(('{"to":"+919876543210","otp":"%s","body":"Your Speezy code is %s","at":"%s"}')
      :format(code, code, at), lines[1].raw)
    -- made where it was missing; the file holds codes: only its owner reads it
    assert.equal(0x180, bit.band(stat.stat(outbox).st_mode, 0x1ff)) -- 0600
    assert.truthy(stat.S_ISDIR(stat.stat(srv.dir .. "/.run").st_mode))
  end)

  it("writes otp null when the message has no code", function()
    local n = #outbox_lines(outbox)
    must_send(srv, { to = "+919876543210", body = "Your order is on its way" })
    local lines = outbox_lines(outbox)
    assert.equal(n + 1, #lines)
    assert.equal(cjson.null, lines[#lines].json.otp)
    assert.truthy(lines[#lines].raw:find('"otp":null', 1, true), lines[#lines].raw)
  end)

  it("escapes quotes, backslashes, line breaks, control bytes and keeps UTF-8", function()
    local n = #outbox_lines(outbox)
    local body = 'He said "hi" \\o/\nsecond line\r\n\ttab \1 \226\130\185500 \224\164\149'
    local to = '+91"98765'
    must_send(srv, { to = to, body = body, otp = "000123" })
    local lines = outbox_lines(outbox)
    assert.equal(n + 1, #lines) -- the line breaks in the body did not break the line
    local last = lines[#lines]
    assert.equal(body, last.json.body)
    assert.equal(to, last.json.to)
    assert.equal("000123", last.json.otp)
    assert.is_nil(last.raw:find("[%z\1-\31]"), "a raw control byte in the line")
    assert.truthy(last.raw:find("\226\130\185500", 1, true), "UTF-8 is not kept as is")
  end)

  it("keeps every line whole when two servers append at once", function()
    -- a second server (another process) on the same file, and a burst to both at once
    local other = h.start{ scripts = SCRIPTS, env = { SMS_OUTBOX_PATH = outbox } }
    local ok, err = pcall(function()
      local n0 = #outbox_lines(outbox)
      local count, tag = 40, random_tag("burst")
      local conns = {}
      for i = 1, count do
        -- long bodies, so that a line written in pieces would show
        conns[i] = (i % 2 == 0 and srv or other):connect()
        assert(conns[i]:send(h.format_request{ method = "POST", path = "/send",
          headers = { ["Content-Type"] = "application/json" }, body = cjson.encode({
            to = "+91" .. (9000000000 + i), body = tag .. " " .. i .. " " ..
            string.rep("x", 1400), otp = ("%06d"):format(i) }) }))
      end
      for i = 1, count do
        local res = assert(conns[i]:read_response({ timeout_ms = 10000 }))
        conns[i]:close()
        assert.equal(200, res.status)
        assert(res.json.ok == true, "send " .. i .. ": " .. res.body)
      end
      local lines = outbox_lines(outbox)
      assert.equal(n0 + count, #lines)
      local seen = {}
      for k = n0 + 1, #lines do
        local j = lines[k].json
        local i = j.body:sub(1, #tag + 1) == tag .. " " and
          tonumber(j.body:match("^%S+ (%d+) x+$"))
        assert(i, "a line that is not one of the burst's: " .. lines[k].raw:sub(1, 120))
        assert.equal(("%06d"):format(i), j.otp)
        assert.equal("+91" .. (9000000000 + i), j.to)
        seen[i] = (seen[i] or 0) + 1
      end
      for i = 1, count do assert.equal(1, seen[i], "send " .. i) end
    end)
    other:stop()
    assert(ok, err)
  end)

  it("appends to SMS_OUTBOX_PATH, and fails with SMS_UNAVAILABLE where it cannot write",
    function()
      local dir = h.tmpdir("outbox")
      local other = h.start{ scripts = SCRIPTS, env = { SMS_PROVIDER = "outbox",
        SMS_OUTBOX_PATH = dir .. "/deep/er/box.jsonl" } }
      local ok, err = pcall(function()
        must_send(other, { to = "+919876543210", body = "Your code is 424242", otp = "424242" })
        assert.equal("424242", outbox_lines(dir .. "/deep/er/box.jsonl")[1].json.otp)
        -- the folder turned into a file: the next send can't open the outbox
        assert(os.remove(dir .. "/deep/er/box.jsonl") and os.remove(dir .. "/deep/er"))
        h.write_file(dir .. "/deep/er", "not a folder")
        local r = must_fail(send(other, { to = "+919876543210", body = "Your code is 515151",
          otp = "515151" }), "SMS_UNAVAILABLE")
        assert.truthy(r.message:find(dir .. "/deep/er/box.jsonl", 1, true), r.message)
        assert.falsy(r.message:find("515151", 1, true), r.message)
        assert.equal(200, other:request{ path = "/ping" }.status)
      end)
      other:stop()
      assert(ok, err)
    end)

  describe("misuse", function()
    local function raised(kind, line_text, text)
      local res = srv:request{ path = "/misuse/" .. kind }
      local j = h.assert_error_envelope(res, 500, "INTERNAL")
      local found
      assert(h.eventually(function()
        for _, l in ipairs(srv:log_lines()) do
          if l.reqId == j.requestId and l.level == "error" then found = l end
        end
        return found
      end, 5000), "no error line for request " .. j.requestId .. ":\n" .. srv:log_tail())
      local at = where(SCRIPTS, line_text) .. ": sms.send: "
      assert.truthy(found.msg:find(at, 1, true), ("%s: does not say %q:\n%s"):format(kind, at,
        found.msg))
      assert.truthy(found.msg:find(text, 1, true), ("%s: does not say %q:\n%s"):format(kind,
        text, found.msg))
    end

    it("raises with the script's file:line, sending nothing", function()
      local before = #outbox_lines(outbox)
      raised("notable", 'sms.send("+919876543210")', "expected a table")
      raised("noto", 'sms.send{ body = "Your code is 123456" }', "to is required")
      raised("nobody", 'sms.send{ to = "+919876543210" }', "body is required")
      raised("numotp", "otp = 12345", "otp must be a string, got number")
      raised("field", 'text = "x"', "unknown field text")
      raised("long", "string.rep(\"x\", 1601)", "body must be 1 to 1600 bytes, got 1601")
      raised("empty", 'to = ""', "to must be 1 to 32 bytes, got 0")
      assert.equal(before, #outbox_lines(outbox))
    end)

    it("makes `speezy check` refuse a send while the scripts load", function()
      local dir = "spec/fixtures/scripts/sms_toplevel"
      local cwd = h.tmpdir("check")
      local code, out = h.run({ h.bin, "check" }, { SPEEZY_ENV = "test",
        SCRIPTS_DIR = h.root .. "/" .. dir, DATABASE_URL = false, REDIS_URL = false },
        { cwd = cwd })
      assert.not_equal(0, code)
      local at = where(dir, "sms.send{") .. ": sms.send: I/O is not allowed here"
      assert.truthy(out:find(at, 1, true), ("does not say %q:\n%s"):format(at, out))
      assert.is_nil(stat.stat(cwd .. "/" .. DEFAULT_OUTBOX), "the send wrote its line")
    end)
  end)
end)

describe("speezy.sms over http", function()
  local srv
  local key = h.uniq("provider")
  local AUTH = "Bearer " .. random_tag("sms-auth")
  local codes = {} -- every code sent: none may reach the log

  local function send_code(to)
    local code = fresh_code()
    codes["the code " .. code] = code
    return send(srv, { to = to or "+919876543210", body = "Your Speezy code is " .. code,
      otp = code }), code
  end

  local function recorded()
    return stub_get("/recorded?key=" .. key)
  end

  setup(function()
    start_stub()
    -- HTTP_TIMEOUT_MS (speezy.http's) outlasts the stub's longest hold: only
    -- SMS_HTTP_TIMEOUT_MS can end a held send
    srv = h.start{ scripts = SCRIPTS, env = { LOG_LEVEL = "debug", HTTP_CA_FILE = stub.ca,
      HTTP_TIMEOUT_MS = "60000",
      SMS_PROVIDER = "http", SMS_HTTP_AUTH = AUTH, SMS_HTTP_TIMEOUT_MS = "3000",
      SMS_HTTP_URL = ("https://localhost:%d/record?key=%s"):format(stub.https, key) } }
  end)

  teardown(function()
    if srv then srv:stop() end
    stop_stub()
  end)

  it("POSTs {to, body} as JSON with the Authorization header; a 2xx is delivered", function()
    local r, code = send_code()
    assert.is_true(r.ok)
    local seen = recorded()
    assert.equal(1, #seen)
    local req = seen[1]
    assert.equal("POST", req.method)
    assert.equal("/record?key=" .. key, req.path)
    assert.equal("application/json", req.headers["content-type"])
    assert.equal(AUTH, req.headers.authorization)
    -- exactly these two fields: the code travels inside the body only
    assert.equal(('{"to":"+919876543210","body":"Your Speezy code is %s"}'):format(code),
      req.body)
    stub_get("/answer?key=" .. key .. "&status=202")
    assert.is_true(send_code().ok)
    assert.equal(2, #recorded())
  end)

  it("fails with SMS_FAILED naming only the provider's status", function()
    stub_get("/answer?key=" .. key .. "&status=500")
    -- the stub answers the request back: its body holds the code and the Authorization
    local r, code = send_code()
    must_fail(r, "SMS_FAILED")
    assert.equal(500, r.status)
    assert.equal("the SMS provider answered 500", r.message)
    assert_hidden(r.message, { ["the code"] = code, SMS_HTTP_AUTH = AUTH }, "the message")
    stub_get("/answer?key=" .. key .. "&status=302")
    r = send_code()
    must_fail(r, "SMS_FAILED") -- a 3xx is not a delivery
    assert.equal(302, r.status)
    stub_get("/answer?key=" .. key .. "&status=200")
  end)

  it("yields while the provider takes its time: other requests answer meanwhile", function()
    local hold = h.uniq("hold")
    stub_get("/answer?key=" .. key .. "&hold=" .. hold)
    local conn = srv:connect()
    assert(conn:send(h.format_request{ method = "POST", path = "/send", headers = {
      ["Content-Type"] = "application/json" }, body = cjson.encode({ to = "+919876543210",
      body = "Your Speezy code is 777001", otp = "777001" }) }))
    codes["the code 777001"] = "777001"
    assert(h.eventually(function() return stub_get("/held?key=" .. hold).waiting == 1 end,
      10000), "the send never reached the stub")
    -- one worker: /ping answers while its send waits for the provider
    assert.equal(200, srv:request{ path = "/ping" }.status)
    assert.is_false(conn:closed(0))
    assert.equal("", conn.src.buf, "the send answered before the provider did")
    stub_get("/release?key=" .. hold)
    local res = assert(conn:read_response({ timeout_ms = 10000 }))
    conn:close()
    assert.is_true(res.json.ok, res.body)
    stub_get("/answer?key=" .. key .. "&status=200")
  end)

  it("fails with SMS_UNAVAILABLE after SMS_HTTP_TIMEOUT_MS, and stops the request", function()
    local hold = h.uniq("hold")
    stub_get("/answer?key=" .. key .. "&hold=" .. hold)
    local r = must_fail(send_code(), "SMS_UNAVAILABLE")
    assert.truthy(r.message:find("timed out", 1, true), r.message)
    assert.equal(cjson.null, r.status)
    assert(h.eventually(function() return stub_get("/held?key=" .. hold).gone == 1 end, 10000),
      "the request went on")
    stub_get("/release?key=" .. hold)
    stub_get("/answer?key=" .. key .. "&status=200")
  end)

  it("keeps SMS_HTTP_AUTH from core.setting, while ordinary settings read", function()
    local res = srv:request{ path = "/setting/SMS_HTTP_AUTH" }
    assert.is_false(res.json.ok)
    assert.truthy(res.json.err:find("core.setting: 'SMS_HTTP_AUTH' is a secret", 1, true),
      res.json.err)
    assert.falsy(res.body:find(AUTH, 1, true))
    assert.equal("http", srv:request{ path = "/setting/SMS_PROVIDER" }.json.value)
  end)

  it("writes neither SMS_HTTP_AUTH nor a code into the log", function()
    assert.is_true(send_code().ok) -- one more delivered, so every outcome is in the log
    srv:stop()
    local text = srv:logs()
    assert(text:find('"route":"/send"', 1, true), "no access line in the log:\n" .. text)
    local hidden = { SMS_HTTP_AUTH = AUTH, ["its token"] = AUTH:match("^Bearer (.*)$") }
    for name, code in pairs(codes) do hidden[name] = code end
    assert_hidden(text, hidden, "the log")
    srv = nil
  end)
end)

describe("speezy.sms over http, other settings", function()
  local srv

  setup(function()
    start_stub()
  end)

  teardown(function()
    stop_stub()
  end)

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("fails with SMS_UNAVAILABLE when the provider's certificate is not trusted", function()
    local key = h.uniq("untrusted")
    srv = h.start{ scripts = SCRIPTS, env = { SMS_PROVIDER = "http",
      SMS_HTTP_URL = ("https://localhost:%d/record?key=%s"):format(stub.https, key) } }
    local r = must_fail(send(srv, { to = "+919876543210", body = "Your code is 313131",
      otp = "313131" }), "SMS_UNAVAILABLE")
    assert.truthy(r.message:find("certificate", 1, true), r.message)
    assert.same({}, stub_get("/recorded?key=" .. key)) -- no request went over the bad TLS
    assert.equal(200, srv:request{ path = "/ping" }.status) -- and the worker serves on
  end)

  it("sends no Authorization without SMS_HTTP_AUTH, over plain http outside production",
    function()
      local key = h.uniq("noauth")
      srv = h.start{ scripts = SCRIPTS, env = { SMS_PROVIDER = "http",
        SMS_HTTP_URL = ("http://127.0.0.1:%d/record?key=%s"):format(stub.http, key) } }
      must_send(srv, { to = "+919876543210", body = "Your code is 616161", otp = "616161" })
      local seen = stub_get("/recorded?key=" .. key)
      assert.equal(1, #seen)
      assert.is_nil(seen[1].headers.authorization)
      assert.equal('{"to":"+919876543210","body":"Your code is 616161"}', seen[1].body)
    end)
end)

describe("SMS_PROVIDER at start", function()
  local srv
  local SECRET = string.rep("s", 40)

  local function production(extra)
    local env = { SPEEZY_ENV = "production", JWT_SECRET = SECRET, OTP_SECRET = SECRET .. "o",
      ADMIN_TOKEN = SECRET .. "a" }
    for k, v in pairs(extra) do env[k] = v end
    return env
  end

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  -- exit 78 with a message naming `name`; hidden (optional) appears nowhere in it
  local function refused(env, name, hidden)
    srv = h.start{ scripts = SCRIPTS, env = env, wait = false }
    local code = srv:wait_exit(10000)
    assert.truthy(code, "started with " .. cjson.encode(env))
    local logs = srv:logs()
    assert.equal(EX_CONFIG, code, logs)
    assert.truthy(logs:find(name, 1, true), ("does not name %s: %s"):format(name, logs))
    if hidden then assert.falsy(logs:find(hidden, 1, true), "printed the value: " .. logs) end
    return logs
  end

  it("refuses outbox in production", function()
    local logs = refused(production({ SMS_PROVIDER = "outbox" }), "SMS_PROVIDER=outbox")
    assert.truthy(logs:find("production refuses it", 1, true), logs)
  end)

  it("refuses an unknown provider, naming it", function()
    refused({ SMS_PROVIDER = "carrier-pigeon" }, 'SMS_PROVIDER must be outbox or http, not ' ..
      '"carrier-pigeon"')
  end)

  it("refuses http without SMS_HTTP_URL, and with an http:// one in production", function()
    refused({ SMS_PROVIDER = "http" }, "SMS_HTTP_URL is not set")
    refused(production({ SMS_PROVIDER = "http", SMS_HTTP_URL = "http://sms.example/send?k=v1" }),
      "SMS_HTTP_URL must be an https:// URL in production", "sms.example")
    refused({ SMS_PROVIDER = "http", SMS_HTTP_URL = "ftp://sms.example/send" },
      "SMS_HTTP_URL must be an http:// or https:// URL", "sms.example")
  end)

  it("refuses an SMS_HTTP_AUTH holding a line break, without printing it", function()
    refused({ SMS_PROVIDER = "http", SMS_HTTP_URL = "https://sms.example/send",
      SMS_HTTP_AUTH = "Bearer abc123\r\nX-Injected: 1" }, "SMS_HTTP_AUTH", "abc123")
  end)

  it("starts in production without a provider; a send then fails naming SMS_PROVIDER",
    function()
      srv = h.start{ scripts = SCRIPTS, env = production({}) }
      local r = must_fail(send(srv, { to = "+919876543210", body = "Your code is 121212",
        otp = "121212" }), "SMS_UNAVAILABLE")
      assert.truthy(r.message:find("SMS_PROVIDER", 1, true), r.message)
      assert.is_nil(stat.stat(srv.dir .. "/" .. DEFAULT_OUTBOX), "production wrote an outbox")
    end)
end)
