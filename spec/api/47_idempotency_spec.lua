-- speezy.idempotency through the real binary (issue #16, item 3): the Idempotency-Key draft on
-- the idempotency_keys table, behind routes declared `{ auth = true, idempotent = true }`
-- (spec/fixtures/scripts/idempotency), each user signed in with a token of its own. Handlers
-- count their runs in Redis (GET /runs/:tag).
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local SCRIPTS = "spec/fixtures/scripts/idempotency"
-- Short, so a claim abandoned in flight (older than this plus the module's 5 s grace) can be
-- made by backdating it 9 s: with the default (30 s) it would still count as running.
local REQUEST_TIMEOUT_MS = 3000

local url = h.servers().database_url
local JWT_SECRET = "spec-jwt-secret-0123456789abcdef0123456789"
local srv
local tokens = {} -- user id -> access token

local function sql(text)
  return h.must_psql(url, text)
end

local function quote(s)
  return "'" .. s:gsub("'", "''") .. "'"
end

-- A user of its own per call: keys are scoped per user, so tests never share one.
local seq = 0
local function new_user()
  seq = seq + 1
  local phone = ("+8%06d%04d"):format(os.time() % 1000000, seq)
  local id = tonumber(sql("INSERT INTO users (phone) VALUES (" .. quote(phone) .. ") RETURNING id"))
  local res = srv:post_json("/token", { user = id })
  assert(res.status == 200, res.body)
  tokens[id] = res.json.token
  return id
end

local function body_for(tag, extra)
  local t = { tag = tag }
  for k, v in pairs(extra or {}) do t[k] = v end
  return cjson.encode(t)
end

-- o: user, key (the header's raw value; none when nil), body (default: {tag = o.tag}).
local function request(o)
  local headers = { ["Content-Type"] = "application/json",
    Authorization = "Bearer " .. tokens[o.user] }
  if o.key then headers["Idempotency-Key"] = o.key end
  return { method = "POST", path = o.path or "/items/a", headers = headers,
    body = o.body or body_for(o.tag) }
end

local function runs(server, tag)
  local res = server:request{ path = "/runs/" .. tag }
  assert.equal(200, res.status, res.body)
  return res.json.n
end

local function key_rows(user)
  return tonumber(sql("SELECT count(*) FROM idempotency_keys WHERE user_id = " .. user))
end

local function assert_first(res, status)
  assert.equal(status or 201, res.status, res.body)
  assert.is_nil(res.headers["idempotent-replayed"], "a first answer says it is a replay")
end

-- A replay: the first answer's status, Content-Type, other headers and body bytes, marked.
local function assert_replay(first, res)
  assert.equal(first.status, res.status, res.body)
  assert.equal("true", res.headers["idempotent-replayed"], "no Idempotent-Replayed: true")
  assert.equal(first.headers["content-type"], res.headers["content-type"])
  assert.equal(first.headers["location"], res.headers["location"])
  assert.equal(first.headers["x-run"], res.headers["x-run"])
  assert.is_true(first.body == res.body, ("bytes differ:\n%q\n%q"):format(first.body, res.body))
end

describe("speezy.idempotency", function()
  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { REQUEST_TIMEOUT_MS = tostring(REQUEST_TIMEOUT_MS),
      JWT_SECRET = JWT_SECRET } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("replays the first answer byte for byte, with Idempotent-Replayed: true", function()
    local user, tag = new_user(), h.uniq("replay")
    local first = srv:request(request{ user = user, tag = tag, key = "k-replay" })
    assert_first(first)
    assert.equal("/items/a/1", first.headers["location"])
    assert.equal("café ✓", first.json.item.note)
    for _ = 1, 2 do
      assert_replay(first, srv:request(request{ user = user, tag = tag, key = "k-replay" }))
    end
    assert.equal(1, runs(srv, tag))
  end)

  it("replays bytes that are not UTF-8 with their content type and headers", function()
    local user, tag = new_user(), h.uniq("blob")
    local first = srv:request(request{ path = "/blob/x", user = user, tag = tag, key = "k-blob" })
    assert_first(first, 200)
    assert.equal("\0\255blob x run 1\r\n", first.body)
    assert.equal("application/octet-stream", first.headers["content-type"])
    local again = srv:request(request{ path = "/blob/x", user = user, tag = tag, key = "k-blob" })
    assert_replay(first, again)
    assert.equal("1", again.headers["x-run"])
    assert.equal(1, runs(srv, tag))
  end)

  it("refuses the key for another body or another path (422), and still replays", function()
    local user, tag = new_user(), h.uniq("mismatch")
    local first = srv:request(request{ user = user, tag = tag, key = "k-m" })
    assert_first(first)
    h.assert_error_envelope(srv:request(request{ user = user, tag = tag, key = "k-m",
      body = body_for(tag, { extra = 1 }) }), 422, "IDEMPOTENCY_MISMATCH")
    h.assert_error_envelope(srv:request(request{ path = "/items/b", user = user, tag = tag,
      key = "k-m" }), 422, "IDEMPOTENCY_MISMATCH")
    assert_replay(first, srv:request(request{ user = user, tag = tag, key = "k-m" }))
    assert.equal(1, runs(srv, tag))
  end)

  it("runs the handler once for 10 concurrent requests with one key", function()
    local user, tag = new_user(), h.uniq("race")
    local list = {}
    for i = 1, 10 do
      list[i] = request{ user = user, key = "k-race", body = body_for(tag, { hold_ms = 300 }) }
    end
    local firsts, in_flight, replays = {}, 0, 0
    for i, res in ipairs(srv:requests_at_once(list)) do
      assert.truthy(res, "request " .. i .. " got no answer")
      if res.status == 409 then
        h.assert_error_envelope(res, 409, "IDEMPOTENCY_IN_FLIGHT")
        in_flight = in_flight + 1
      elseif res.headers["idempotent-replayed"] then
        replays = replays + 1
      else
        assert.equal(201, res.status, res.body)
        firsts[#firsts + 1] = res
      end
    end
    assert.equal(1, #firsts, "handler answers without a replay mark")
    assert.equal(9, in_flight + replays)
    assert.is_true(in_flight >= 1, "no request met the first one in flight")
    assert.equal(1, runs(srv, tag))
    assert_replay(firsts[1], srv:request(list[1]))
  end)

  it("scopes keys per user: the same key of two users runs for both", function()
    local tag = h.uniq("users")
    local a = srv:request(request{ user = new_user(), tag = tag, key = "k-shared" })
    local b = srv:request(request{ user = new_user(), tag = tag, key = "k-shared" })
    assert_first(a)
    assert_first(b)
    assert.equal(1, a.json.item.run)
    assert.equal(2, b.json.item.run)
    assert.equal(2, runs(srv, tag))
  end)

  it("counts an expired key as absent: the request runs again", function()
    local user, tag = new_user(), h.uniq("expiry")
    assert_first(srv:request(request{ user = user, tag = tag, key = "k-exp" }))
    sql(([[UPDATE idempotency_keys SET created_at = now() - interval '25 hours',
      expires_at = now() - interval '1 hour' WHERE user_id = %d]]):format(user))
    local second = srv:request(request{ user = user, tag = tag, key = "k-exp" })
    assert_first(second)
    assert.equal(2, second.json.item.run)
    assert_replay(second, srv:request(request{ user = user, tag = tag, key = "k-exp" }))
    assert.equal(2, runs(srv, tag))
  end)

  it("takes over a claim left in flight past the request timeout", function()
    local user, tag = new_user(), h.uniq("abandoned")
    local body = body_for(tag)
    -- the claim of a worker that died running this very request (kill -9): never finished
    sql(([[INSERT INTO idempotency_keys (user_id, key, request_hash, created_at)
      VALUES (%d, 'k-dead', encode(sha256(convert_to(%s, 'UTF8')), 'hex'),
              now() - interval '2 seconds')]]):format(user, quote("POST\n/items/a\n" .. body)))
    h.assert_error_envelope(srv:request(request{ user = user, body = body, key = "k-dead" }),
      409, "IDEMPOTENCY_IN_FLIGHT")
    assert.equal(0, runs(srv, tag))
    sql(("UPDATE idempotency_keys SET created_at = now() - interval '9 seconds' " ..
      "WHERE user_id = %d"):format(user))
    local res = srv:request(request{ user = user, body = body, key = "k-dead" })
    assert_first(res)
    assert_replay(res, srv:request(request{ user = user, body = body, key = "k-dead" }))
    assert.equal(1, runs(srv, tag))
  end)

  it("keeps the answer of the request that took a claim over, not the late first one", function()
    local user, tag = new_user(), h.uniq("late")
    -- the first request holds 1.5 s; its claim is made to look abandoned meanwhile, and a
    -- second request takes it over and still holds when the first one finishes
    local a = srv:connect()
    assert(a:send(h.format_request(request{ user = user, key = "k-late",
      body = body_for(tag, { hold_ms = 1500 }) })))
    assert.truthy(h.eventually(function() return runs(srv, tag) == 1 end, 5000, 20))
    sql(("UPDATE idempotency_keys SET created_at = now() - interval '9 seconds' " ..
      "WHERE user_id = %d"):format(user))
    local second = request{ user = user, key = "k-late", body = body_for(tag, { hold_ms = 2000 }) }
    local b = srv:connect()
    assert(b:send(h.format_request(second)))
    local first_res = a:read_response({ timeout_ms = 10000 })
    local second_res = b:read_response({ timeout_ms = 10000 })
    a:close()
    b:close()
    assert_first(first_res)
    assert_first(second_res)
    assert.equal(1, first_res.json.item.run)
    assert.equal(2, second_res.json.item.run)
    assert_replay(second_res, srv:request(second))
    assert.equal(2, runs(srv, tag))
  end)

  it("releases the key when the handler fails, so the retry runs", function()
    local user, tag = new_user(), h.uniq("error")
    h.redis_cli("SET", "fail:" .. tag, "1")
    h.assert_error_envelope(srv:request(request{ user = user, tag = tag, key = "k-err" }), 500,
      "INTERNAL")
    assert.equal(0, key_rows(user))
    local retry = srv:request(request{ user = user, tag = tag, key = "k-err" })
    assert_first(retry)
    assert.equal(2, retry.json.item.run)
    assert_replay(retry, srv:request(request{ user = user, tag = tag, key = "k-err" }))
    assert.equal(2, runs(srv, tag))
  end)

  it("does not store a 5xx answer: the retry runs", function()
    local user, tag = new_user(), h.uniq("5xx")
    h.redis_cli("SET", "down:" .. tag, "1")
    h.assert_error_envelope(srv:request(request{ user = user, tag = tag, key = "k-5xx" }), 503,
      "DOWN")
    assert.equal(0, key_rows(user))
    local retry = srv:request(request{ user = user, tag = tag, key = "k-5xx" })
    assert_first(retry)
    assert_replay(retry, srv:request(request{ user = user, tag = tag, key = "k-5xx" }))
    assert.equal(2, runs(srv, tag))
  end)

  it("reads the key bare and as a structured-field string, escapes included", function()
    local user, tag = new_user(), h.uniq("forms")
    local first = srv:request(request{ user = user, tag = tag, key = "8e03-AZ_9.~:/+" })
    assert_first(first)
    assert_replay(first, srv:request(request{ user = user, tag = tag, key = '"8e03-AZ_9.~:/+"' }))
    local tag2 = h.uniq("escapes")
    assert_first(srv:request(request{ user = user, tag = tag2, key = [["a\"b\\c d"]] }))
    assert.equal([[8e03-AZ_9.~:/+|a"b\c d]], sql(("SELECT string_agg(key, '|' ORDER BY key) " ..
      "FROM idempotency_keys WHERE user_id = %d"):format(user)))
    assert.equal(1, runs(srv, tag))
  end)

  it("refuses a malformed key with 400 VALIDATION_FAILED before the handler runs", function()
    local user, tag = new_user(), h.uniq("bad")
    local bad = { "", '""', ("k"):rep(256), '"' .. ("k"):rep(256) .. '"', "a b", "a,b", '"abc',
      'abc"', '"a\\nb"', '"a"b"', "caf\195\169", '"caf\195\169"' }
    for _, key in ipairs(bad) do
      local res = srv:request(request{ user = user, tag = tag, key = key })
      local j = h.assert_error_envelope(res, 400, "VALIDATION_FAILED")
      assert.equal("Idempotency-Key", j.error.details[1].field, ("key %q"):format(key))
    end
    assert.equal(0, runs(srv, tag))
    assert.equal(0, key_rows(user))
  end)

  it("accepts 255 characters, counted once unquoted", function()
    local user, tag = new_user(), h.uniq("long")
    assert_first(srv:request(request{ user = user, tag = tag, key = ("k"):rep(255) }))
    -- 259 bytes on the wire, 255 characters of key: 254 k's and one escaped quote
    assert_first(srv:request(request{ user = user, tag = tag,
      key = '"' .. ("k"):rep(254) .. '\\""' }))
    assert.equal("255,255", sql(("SELECT string_agg(length(key)::text, ',') " ..
      "FROM idempotency_keys WHERE user_id = %d"):format(user)))
  end)

  it("runs every request without a key and stores nothing", function()
    local user, tag = new_user(), h.uniq("nokey")
    assert_first(srv:request(request{ user = user, tag = tag }))
    local second = srv:request(request{ user = user, tag = tag })
    assert_first(second)
    assert.equal(2, second.json.item.run)
    assert.equal(0, key_rows(user))
  end)

  it("answers 503 without running the handler while PostgreSQL is down", function()
    local user, tag = new_user(), h.uniq("pgdown")
    local servers = h.servers()
    servers.stop_pg()
    finally(function() servers.start_pg() end)
    h.assert_error_envelope(srv:request(request{ user = user, tag = tag, key = "k-down",
      timeout_ms = 10000 }), 503, "DB_UNAVAILABLE")
    assert.equal(0, runs(srv, tag))
    servers.start_pg()
    local res
    assert.truthy(h.eventually(function()
      res = srv:request(request{ user = user, tag = tag, key = "k-down" })
      return res.status ~= 503
    end, 20000, 200), "no answer but 503 after PostgreSQL came back")
    assert_first(res)
    assert.equal(1, runs(srv, tag))
  end)
end)
