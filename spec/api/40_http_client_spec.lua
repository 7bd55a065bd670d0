-- speezy.http, outgoing HTTP (issue #15 item 6), through the real binary against a local
-- HTTPS stub with its own throwaway CA (spec/tools/https_stub.py, certificate for "localhost"
-- only): GET and POST round trips, TLS verified with HTTP_CA_FILE and refused without it or
-- for another host name, timeouts, refused connections, answers over HTTP_MAX_RESPONSE_BYTES,
-- redirects only when asked, many slow requests at once while other routes answer, requests
-- whose coroutine is gone stopped at once, and misuse raising with the script's file:line.
-- Scripts: spec/fixtures/scripts/http_client (POST /call runs one http.request with the
-- options it is given), http_toplevel (a call while loading).
local h = require "spec.helpers"
local cjson = require "cjson"
local http = require "socket.http"
local psignal = require "posix.signal"
local wait = require "posix.sys.wait"

local SCRIPTS = "spec/fixtures/scripts/http_client"
local MAX_BYTES = 4096

-- The stub: started once per file; its ports and CA are in stub.dir.
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

-- https://localhost:<stub>/path (the name its certificate is for)
local function https(path, host)
  return ("https://%s:%d%s"):format(host or "localhost", stub.https, path)
end

-- What the stub says directly (plain HTTP from this process), decoded.
local function stub_get(path)
  local body, code = http.request(("http://127.0.0.1:%d%s"):format(stub.http, path))
  assert(code == 200, "stub " .. path .. ": " .. tostring(code))
  return cjson.decode(body) or body
end

local function held(key)
  return stub_get("/held?key=" .. key)
end

-- One http.request through the server: {ok = true, status, headers, body} or
-- {ok = false, code, message}.
local function call(srv, opts)
  local res = srv:post_json("/call", opts)
  assert(res.status == 200, "POST /call answered " .. res.status .. ": " .. res.body)
  return res.json
end

local function must_answer(r)
  assert(r.ok, "http.request failed: " .. tostring(r.code) .. ": " .. tostring(r.message))
  return r
end

local function must_fail(r, code)
  assert(not r.ok, "http.request succeeded with status " .. tostring(r.status))
  assert(r.code == code, ("expected %s, got %s: %s"):format(code, r.code, r.message))
  assert(type(r.message) == "string" and #r.message > 0, "no message")
  return r
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

-- A request to /call on a connection of its own, left waiting for the answer.
local function send_call(srv, opts)
  local conn = srv:connect()
  assert(conn:send(h.format_request{ method = "POST", path = "/call", body = cjson.encode(opts),
    headers = { ["Content-Type"] = "application/json" } }))
  return conn
end

describe("speezy.http", function()
  local srv

  setup(function()
    start_stub()
    srv = h.start{ scripts = SCRIPTS,
      env = { HTTP_CA_FILE = stub.ca, HTTP_MAX_RESPONSE_BYTES = tostring(MAX_BYTES) } }
  end)

  teardown(function()
    if srv then srv:stop() end
    stop_stub()
  end)

  it("GETs over verified TLS: status, lower-cased headers, body, and the headers sent",
    function()
      local r = must_answer(call(srv, { url = https("/echo?x=1"),
        headers = { ["X-Test"] = "abc", ["X-Number"] = 42 } }))
      assert.equal(200, r.status)
      assert.equal("application/json", r.headers["content-type"])
      assert.equal("yes", r.headers["x-stub"])
      assert.equal("a, b", r.headers["set-twice"]) -- sent twice, joined
      local seen = cjson.decode(r.body)
      assert.equal("GET", seen.method)
      assert.equal("/echo?x=1", seen.path)
      assert.equal("abc", seen.headers["x-test"])
      assert.equal("42", seen.headers["x-number"])
      assert.equal("speezy", seen.headers["user-agent"])
      assert.equal("", seen.body)
    end)

  it("POSTs a body: it arrives with its headers, and the answer's status comes back",
    function()
      local payload = cjson.encode({ to = "+919876543210", text = "code 123456" })
      local r = must_answer(call(srv, { method = "POST", url = https("/echo?status=201"),
        headers = { ["Content-Type"] = "application/json", Authorization = "Bearer s3cr3t" },
        body = payload, timeout = 5000 }))
      assert.equal(201, r.status)
      local seen = cjson.decode(r.body)
      assert.equal("POST", seen.method)
      assert.equal(payload, seen.body)
      assert.equal(tostring(#payload), seen.headers["content-length"])
      assert.equal("application/json", seen.headers["content-type"])
      assert.equal("Bearer s3cr3t", seen.headers.authorization)
      -- a body without a Content-Type goes without one (not as a form)
      local bare = cjson.decode(must_answer(call(srv, { method = "POST", url = https("/echo"),
        body = "raw" })).body)
      assert.equal("raw", bare.body)
      assert.is_nil(bare.headers["content-type"])
      -- a large body goes at once, without waiting for a 100 Continue first
      local big = cjson.decode(must_answer(call(srv, { method = "POST",
        url = https("/echo?quiet=1"), body = "0123456789abcdef", body_repeat = 65537 })).body)
      assert.equal(16 * 65537, big.body_len)
      assert.is_nil(big.headers.expect)
    end)

  it("sends each method as given, over plain http too", function()
    for _, m in ipairs({ "PUT", "PATCH", "DELETE", "OPTIONS" }) do
      local r = must_answer(call(srv, { method = m, url = https("/echo"), body = m == "PUT"
        and "put-body" or nil }))
      local seen = cjson.decode(r.body)
      assert.equal(m, seen.method)
      assert.equal(m == "PUT" and "put-body" or "", seen.body)
    end
    local head = must_answer(call(srv, { method = "HEAD", url = https("/echo") }))
    assert.equal(200, head.status)
    assert.equal("", head.body)
    local plain = must_answer(call(srv, {
      url = ("http://127.0.0.1:%d/echo"):format(stub.http) }))
    assert.equal("GET", cjson.decode(plain.body).method)
  end)

  it("refuses a certificate that is not for the host name (HTTP_TLS)", function()
    local r = must_fail(call(srv, { url = https("/echo", "127.0.0.1") }), "HTTP_TLS")
    assert.truthy(r.message:find("127.0.0.1", 1, true), r.message)
  end)

  it("fails with HTTP_TIMEOUT when the answer takes longer than the timeout", function()
    must_fail(call(srv, { url = https("/sleep?ms=5000"), timeout = 300 }), "HTTP_TIMEOUT")
  end)

  it("fails with HTTP_CONNECT when nothing listens", function()
    must_fail(call(srv, { url = ("https://localhost:%d/"):format(h.free_port()) }),
      "HTTP_CONNECT")
  end)

  it("bounds the answer by HTTP_MAX_RESPONSE_BYTES, with or without a Content-Length",
    function()
      local exact = must_answer(call(srv, { url = https("/bytes?n=" .. MAX_BYTES) }))
      assert.equal(MAX_BYTES, #exact.body)
      local streamed = must_answer(call(srv, { url = https("/stream?n=" .. MAX_BYTES) }))
      assert.equal(MAX_BYTES, #streamed.body)
      local r = must_fail(call(srv, { url = https("/bytes?n=" .. MAX_BYTES + 1) }),
        "HTTP_TOO_LARGE")
      assert.truthy(r.message:find(tostring(MAX_BYTES), 1, true), r.message)
      must_fail(call(srv, { url = https("/stream?n=" .. MAX_BYTES + 1) }), "HTTP_TOO_LARGE")
    end)

  it("answers a redirect as it is unless asked to follow", function()
    local r = must_answer(call(srv, { url = https("/redirect?to=/echo") }))
    assert.equal(302, r.status)
    assert.equal("/echo", r.headers.location)
    local followed = must_answer(call(srv, { url = https("/redirect?to=/echo"), follow = true }))
    assert.equal(200, followed.status)
    assert.equal("GET", cjson.decode(followed.body).method)
  end)

  it("refuses URLs other than http and https (HTTP_FAILED)", function()
    local r = must_fail(call(srv, { url = "ftp://localhost/file" }), "HTTP_FAILED")
    assert.truthy(r.message:find("only http:// and https://", 1, true), r.message)
    must_fail(call(srv, { url = "not a url" }), "HTTP_FAILED")
  end)

  it("keeps serving while many requests wait on a slow server", function()
    local key, n = h.uniq("many"), 8
    local conns = {}
    for i = 1, n do
      conns[i] = send_call(srv, { url = https("/hold?key=" .. key), timeout = 20000 })
    end
    -- all of them reached the stub at once, from the one worker
    assert(h.eventually(function() return held(key).waiting == n end, 10000),
      "the stub never held " .. n .. " requests at once: " .. cjson.encode(held(key)))
    local ping = srv:request{ path = "/ping" }
    assert.equal(200, ping.status)
    assert.is_true(ping.json.pong)
    stub_get("/release?key=" .. key)
    for i = 1, n do
      local res = assert(conns[i]:read_response({ timeout_ms = 10000 }))
      conns[i]:close()
      assert.equal(200, res.status)
      local r = must_answer(res.json)
      assert.equal("released", r.body)
    end
  end)

  it("stops the request of a client that went away", function()
    local key = h.uniq("gone")
    local conn = send_call(srv, { url = https("/hold?key=" .. key), timeout = 20000 })
    assert(h.eventually(function() return held(key).waiting == 1 end, 10000), "never held")
    conn:close()
    -- the stub sees its client (speezy) hang up: the transfer was stopped, not left running
    assert(h.eventually(function() return held(key).gone == 1 end, 10000),
      "the request went on: " .. cjson.encode(held(key)))
    assert.equal(200, srv:request{ path = "/ping" }.status)
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
      local at = where(SCRIPTS, line_text) .. ": http.request: "
      assert.truthy(found.msg:find(at, 1, true), ("%s: does not say %q:\n%s"):format(kind, at,
        found.msg))
      assert.truthy(found.msg:find(text, 1, true), ("%s: does not say %q:\n%s"):format(kind,
        text, found.msg))
    end

    it("raises with the script's file:line", function()
      raised("nourl", 'http.request{ method = "GET" }', "url is required")
      raised("method", "method = 42", "method must be a string, got number")
      raised("lowercase", 'method = "post"', "upper-case HTTP method")
      raised("headers", 'headers = "X-A: 1"', "headers must be a table")
      raised("body", "body = { a = 1 }", "body must be a string")
      raised("option", "header = {}", "unknown option header")
      raised("crlf", '["X-A"] = "1\\r\\nX-B: 2"', "header X-A: its value may not hold a line break")
      raised("length", '["Content-Length"] = "5"', "Content-Length is set by the client")
      raised("notable", 'http.request("http://localhost/")', "expected a table")
    end)

    it("makes `speezy check` refuse a call while the scripts load", function()
      local dir = "spec/fixtures/scripts/http_toplevel"
      local code, out = h.run({ h.bin, "check" }, { SPEEZY_ENV = "test",
        SCRIPTS_DIR = h.root .. "/" .. dir, DATABASE_URL = false, REDIS_URL = false },
        { cwd = h.tmpdir("check") })
      assert.not_equal(0, code)
      local at = where(dir, "http.request{") .. ": http.request: I/O is not allowed here"
      assert.truthy(out:find(at, 1, true), ("does not say %q:\n%s"):format(at, out))
    end)
  end)
end)

describe("speezy.http without HTTP_CA_FILE", function()
  local srv

  setup(function()
    start_stub()
  end)

  teardown(function()
    if srv then srv:stop() end
    stop_stub()
  end)

  it("refuses the stub's certificate (HTTP_TLS): its CA is not trusted", function()
    srv = h.start{ scripts = SCRIPTS }
    local r = must_fail(call(srv, { url = https("/echo") }), "HTTP_TLS")
    assert.truthy(r.message:find("certificate", 1, true), r.message)
    -- the same stub over plain http answers: only the certificate was refused
    must_answer(call(srv, { url = ("http://127.0.0.1:%d/echo"):format(stub.http) }))
  end)

  it("stops a request whose handler passed its deadline", function()
    srv:stop()
    srv = h.start{ scripts = SCRIPTS, env = { REQUEST_TIMEOUT_MS = "1000" } }
    local key = h.uniq("deadline")
    local res = srv:post_json("/call", { url = ("http://127.0.0.1:%d/hold?key=%s"):format(
      stub.http, key), timeout = 20000 })
    h.assert_error_envelope(res, 504, "TIMEOUT")
    assert(h.eventually(function() return held(key).gone == 1 end, 10000),
      "the request went on: " .. cjson.encode(held(key)))
  end)

  it("refuses to start when HTTP_CA_FILE cannot be read, naming it", function()
    srv:stop()
    srv = h.start{ scripts = SCRIPTS, wait = false,
      env = { HTTP_CA_FILE = stub.dir .. "/missing.pem" } }
    local code = srv:wait_exit(10000)
    assert.truthy(code, "still running without its CA file")
    assert.not_equal(0, code)
    assert.truthy(srv:logs():find("HTTP_CA_FILE", 1, true), srv:log_tail())
  end)
end)
