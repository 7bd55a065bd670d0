-- POST and GET /graphql (speezy.graphql.http): the GraphQL-over-HTTP specification's media
-- types, methods and status codes, automatic persisted queries (Apollo's protocol, stored in
-- Redis and shared by every instance), the limits checked before validation (depth, aliases,
-- complexity, tokens), the document cache, and hostile documents answered with GraphQL
-- errors by a server that stays up. The schema is the fixture's
-- (spec/fixtures/scripts/graphql_http/graphql/).
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local FIXTURE = "spec/fixtures/scripts/graphql_http"
local GQL = "application/graphql-response+json"
local JSON = "application/json"

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- POST /graphql: body a table (sent as JSON) or a string (sent as is).
local function post(srv, body, headers, method)
  local hd = { ["Content-Type"] = JSON }
  for k, v in pairs(headers or {}) do hd[k] = v end
  if hd["Content-Type"] == false then hd["Content-Type"] = nil end
  return srv:request{ method = method or "POST", path = "/graphql", headers = hd,
    body = type(body) == "table" and cjson.encode(body) or body }
end

-- GET /graphql with params (values that are tables are JSON-encoded, as the spec asks).
local function get(srv, params, headers)
  local qs, keys = {}, {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = params[k]
    if type(v) == "table" then v = cjson.encode(v) end
    qs[#qs + 1] = urlencode(k) .. "=" .. urlencode(v)
  end
  return srv:request{ method = "GET", path = "/graphql?" .. table.concat(qs, "&"),
    headers = headers }
end

local function media(res)
  return ((res.headers["content-type"] or ""):match("^[^;]+") or ""):lower()
end

-- A GraphQL response: a JSON object with nothing but data, errors and extensions (never the
-- REST envelope); returns it decoded.
local function response(res)
  local j = res.json
  assert(type(j) == "table", "not JSON: " .. res.status_line .. " " .. res.body:sub(1, 300))
  for k in pairs(j) do
    assert(k == "data" or k == "errors" or k == "extensions", "unexpected key " .. k .. ": "
      .. res.body:sub(1, 300))
  end
  return j
end

-- A request error: the status, the media type, no data, and the first error's code.
local function assert_request_error(res, status, code, want_media)
  local where = res.status_line .. " " .. res.body:sub(1, 300)
  assert.equal(status, res.status, where)
  if want_media then assert.equal(want_media, media(res), where) end
  local j = response(res)
  assert.is_nil(j.data, where)
  assert.is_table(j.errors, where)
  assert.is_string(j.errors[1].message, where)
  assert.equal(code, j.errors[1].extensions and j.errors[1].extensions.code, where)
  return j
end

local function token(srv, user)
  local res = srv:post_json("/token", { user = user })
  assert.equal(200, res.status, res.body)
  return res.json.token
end

describe("GraphQL over HTTP", function()
  local srv

  setup(function()
    srv = h.start{ scripts = FIXTURE, env = { JWT_SECRET = h.APP_JWT_SECRET } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  describe("media types", function()
    it("answers application/json without Accept, for */* and for application/json", function()
      for _, accept in ipairs { false, "*/*", JSON, "application/*", "text/html, */*;q=0.1" } do
        local res = post(srv, { query = "{ hello }" }, { Accept = accept or nil })
        assert.equal(200, res.status, res.body)
        assert.equal(JSON, media(res), tostring(accept))
        assert.equal("application/json; charset=utf-8", res.headers["content-type"])
        assert.same({ data = { hello = "world" } }, response(res))
      end
    end)

    it("answers application/graphql-response+json when the client accepts it", function()
      for _, accept in ipairs { GQL, JSON .. ", " .. GQL, GQL .. ";q=0.9, " .. JSON .. ";q=0.8",
                                "*/*, " .. GQL } do
        local res = post(srv, { query = "{ hello }" }, { Accept = accept })
        assert.equal(200, res.status, res.body)
        assert.equal(GQL, media(res), accept)
        assert.same({ data = { hello = "world" } }, response(res))
      end
      -- a higher q for application/json wins
      local res = post(srv, { query = "{ hello }" },
        { Accept = GQL .. ";q=0.5, " .. JSON })
      assert.equal(JSON, media(res))
    end)

    it("answers 406 when the client accepts neither", function()
      for _, accept in ipairs { "text/html", "application/xml, text/*", GQL .. ";q=0" } do
        local res = post(srv, { query = "{ hello }" }, { Accept = accept })
        assert_request_error(res, 406, "NOT_ACCEPTABLE", JSON)
      end
    end)

    it("refuses a POST body that is not application/json with 415", function()
      for _, ct in ipairs { false, "text/plain", "application/x-www-form-urlencoded",
                            "application/json; charset=latin1", "application/jsonx" } do
        local res = post(srv, { query = "{ hello }" }, { ["Content-Type"] = ct })
        assert_request_error(res, 415, "UNSUPPORTED_MEDIA_TYPE")
      end
      for _, ct in ipairs { "application/json; charset=utf-8", "Application/JSON",
                            'application/json;charset="UTF-8"' } do
        local res = post(srv, { query = "{ hello }" }, { ["Content-Type"] = ct })
        assert.equal(200, res.status, ct .. ": " .. res.body)
      end
    end)
  end)

  describe("methods", function()
    it("runs a query over GET with its variables and operation name in the URL", function()
      local res = get(srv, { query = "query A { hello } query B($t: String!) { echo(text: $t) }",
        operationName = "B", variables = { t = "hé & =" } }, { Accept = GQL })
      assert.equal(200, res.status, res.body)
      assert.equal(GQL, media(res))
      assert.same({ data = { echo = "hé & =" } }, response(res))
      local head = srv:request{ method = "HEAD", path = "/graphql?query=%7Bhello%7D" }
      assert.equal(200, head.status)
    end)

    it("refuses a mutation over GET with 405 and Allow: POST, and runs it over POST", function()
      for _, accept in ipairs { GQL, JSON } do
        local res = get(srv, { query = "mutation { touch }" }, { Accept = accept })
        assert_request_error(res, 405, "OPERATION_NOT_ALLOWED", accept)
        assert.equal("POST", res.headers["allow"])
      end
      -- the operation the name selects decides, not the first one
      local res = get(srv, { query = "query Q { hello } mutation M { touch }",
        operationName = "M" })
      assert.equal(405, res.status, res.body)
      res = get(srv, { query = "query Q { hello } mutation M { touch }", operationName = "Q" })
      assert.equal(200, res.status, res.body)
      res = post(srv, { query = "mutation { touch }" })
      assert.equal(200, res.status, res.body)
      assert.same({ data = { touch = true } }, response(res))
    end)

    it("answers other methods 405 with Allow: GET, POST in a GraphQL body", function()
      for _, method in ipairs { "PUT", "PATCH", "DELETE" } do
        local res = post(srv, { query = "{ hello }" }, { Accept = GQL }, method)
        assert_request_error(res, 405, "METHOD_NOT_ALLOWED", GQL)
        assert.equal("GET, POST", res.headers["allow"])
      end
      local res = srv:request{ method = "OPTIONS", path = "/graphql" }
      assert.equal(204, res.status)
      assert.equal("GET, HEAD, POST", res.headers["allow"])
    end)

    it("answers a body above BODY_LIMIT with the host's 413", function()
      local res = post(srv, '{"query":"{ hello }","x":"' .. string.rep("a", 1100000) .. '"}')
      assert.equal(413, res.status)
      assert.equal(200, post(srv, { query = "{ hello }" }).status)
    end)
  end)

  describe("malformed requests", function()
    -- Not a well-formed GraphQL-over-HTTP request: 400 whatever the media type.
    local cases = {
      { "invalid JSON", '{"query": "{ hello }"', "not valid JSON" },
      { "an empty body", "", "body is empty" },
      { "a JSON array", '[{"query": "{ hello }"}]', "must be a JSON object" },
      { "a JSON string", '"{ hello }"', "must be a JSON object" },
      { "no query", { qeury = "{ hello }" }, "query parameter is missing" },
      { "a number query", { query = 1 }, "query parameter must be a string" },
      { "an object query", { query = { kind = "Document" } },
        "query parameter must be a string" },
      { "a string variables", { query = "{ hello }", variables = "{}" }, "variables parameter" },
      { "an array variables", { query = "{ hello }", variables = { 1, 2 } },
        "variables parameter" },
      { "a number operationName", { query = "{ hello }", operationName = 3 },
        "operationName parameter must be a string" },
      { "an array extensions", { query = "{ hello }", extensions = { "x" } },
        "extensions parameter must be an object" },
    }
    for _, case in ipairs(cases) do
      it("answers 400 BAD_REQUEST to " .. case[1], function()
        for _, accept in ipairs { GQL, JSON } do
          local j = assert_request_error(post(srv, case[2], { Accept = accept }), 400,
            "BAD_REQUEST", accept)
          assert.truthy(j.errors[1].message:find(case[3], 1, true), j.errors[1].message)
        end
      end)
    end

    it("takes null parameters as absent", function()
      local res = srv:request{ method = "POST", path = "/graphql",
        headers = { ["Content-Type"] = JSON },
        body = '{"query":"{ hello }","operationName":null,"variables":null,"extensions":null}' }
      assert.equal(200, res.status, res.body)
      assert.same({ data = { hello = "world" } }, response(res))
    end)

    it("answers 400 to GET parameters that are not JSON objects", function()
      assert_request_error(get(srv, { query = "{ hello }", variables = "[1]" }), 400,
        "BAD_REQUEST")
      assert_request_error(get(srv, { query = "{ hello }", extensions = "{" }), 400,
        "BAD_REQUEST")
      assert_request_error(get(srv, {}), 400, "BAD_REQUEST")
    end)
  end)

  describe("request errors", function()
    it("a document that does not parse: 400 under graphql-response+json, 200 under json", function()
      local j = assert_request_error(post(srv, { query = "{ hello" }, { Accept = GQL }), 400,
        "GRAPHQL_PARSE_FAILED", GQL)
      assert.same({ { line = 1, column = 8 } }, j.errors[1].locations)
      assert_request_error(post(srv, { query = "{ hello" }, { Accept = JSON }), 200,
        "GRAPHQL_PARSE_FAILED", JSON)
    end)

    it("a document that does not validate: 400 under graphql-response+json, 200 under json",
      function()
        local j = assert_request_error(post(srv, { query = "{ nope }" }, { Accept = GQL }), 400,
          "GRAPHQL_VALIDATION_FAILED", GQL)
        assert.truthy(j.errors[1].message:find('"nope"', 1, true), j.errors[1].message)
        assert_request_error(post(srv, { query = "{ nope }" }, { Accept = JSON }), 200,
          "GRAPHQL_VALIDATION_FAILED", JSON)
      end)

    it("variables that do not coerce: 400 under graphql-response+json, 200 under json", function()
      local q = "query($t: String!) { echo(text: $t) }"
      assert_request_error(post(srv, { query = q, variables = { t = { 1 } } }, { Accept = GQL }),
        400, "BAD_USER_INPUT", GQL)
      assert_request_error(post(srv, { query = q, variables = {} }, { Accept = JSON }), 200,
        "BAD_USER_INPUT", JSON)
    end)
  end)

  describe("the caller", function()
    it("runs without a token: ctx.user is nil", function()
      local res = post(srv, { query = "{ me }" })
      assert.equal(200, res.status, res.body)
      assert.equal(cjson.null, response(res).data.me)
    end)

    it("puts the caller of a valid Bearer token on ctx.user", function()
      local res = post(srv, { query = "{ me }" }, { Authorization = "Bearer " .. token(srv, 77) })
      assert.equal(200, res.status, res.body)
      assert.equal("77", response(res).data.me)
    end)

    it("refuses an invalid token: UNAUTHENTICATED, 401 under graphql-response+json", function()
      local bad = "Bearer " .. token(srv, 78):sub(1, -3) .. "xx"
      for _, auth in ipairs { bad, "Bearer", "Basic dXNlcjpwYXNz" } do
        local res = post(srv, { query = "{ me }" }, { Authorization = auth, Accept = GQL })
        assert_request_error(res, 401, "UNAUTHENTICATED", GQL)
        assert.truthy((res.headers["www-authenticate"] or ""):find("Bearer", 1, true))
        res = post(srv, { query = "{ me }" }, { Authorization = auth, Accept = JSON })
        assert_request_error(res, 200, "UNAUTHENTICATED", JSON)
      end
    end)
  end)
end)

describe("automatic persisted queries", function()
  local a, b

  setup(function()
    a = h.start{ scripts = FIXTURE }
    b = h.start{ scripts = FIXTURE }
  end)

  teardown(function()
    if a then a:stop() end
    if b then b:stop() end
  end)

  -- A query no earlier run stored.
  local function fresh()
    local q = ('{ echo(text: "%s") }'):format(h.uniq("apq"))
    local code, hash = h.run({ "sh", "-c", "printf %s " .. h.shell_quote(q) .. " | sha256sum" })
    assert.equal(0, code)
    return q, hash:match("^(%x+)")
  end

  local function pq(hash, version)
    return { persistedQuery = { version = version or 1, sha256Hash = hash } }
  end

  it("answers an unknown hash PERSISTED_QUERY_NOT_FOUND", function()
    local _, hash = fresh()
    local j = assert_request_error(post(a, { extensions = pq(hash) }, { Accept = JSON }), 200,
      "PERSISTED_QUERY_NOT_FOUND", JSON)
    assert.equal("PersistedQueryNotFound", j.errors[1].message)
    assert_request_error(post(a, { extensions = pq(hash) }, { Accept = GQL }), 400,
      "PERSISTED_QUERY_NOT_FOUND", GQL)
    assert_request_error(get(a, { extensions = pq(hash) }), 200, "PERSISTED_QUERY_NOT_FOUND")
  end)

  it("refuses a hash that is not the query's with 400 and stores nothing", function()
    local q, hash = fresh()
    local wrong = hash:sub(1, 63) .. (hash:sub(64) == "0" and "1" or "0")
    for _, accept in ipairs { GQL, JSON } do
      assert_request_error(post(a, { query = q, extensions = pq(wrong) }, { Accept = accept }),
        400, "PERSISTED_QUERY_HASH_MISMATCH", accept)
    end
    assert.equal("0", h.redis_cli("EXISTS", "gql:apq:" .. wrong))
    assert.equal("0", h.redis_cli("EXISTS", "gql:apq:" .. hash))
  end)

  it("refuses another version or a malformed hash with 400", function()
    local q, hash = fresh()
    assert_request_error(post(a, { query = q, extensions = pq(hash, 2) }), 400,
      "PERSISTED_QUERY_NOT_SUPPORTED")
    assert_request_error(post(a, { query = q, extensions = pq("abc") }), 400, "BAD_REQUEST")
    assert_request_error(post(a, { query = q, extensions = { persistedQuery = true } }), 400,
      "BAD_REQUEST")
  end)

  it("stores a verified query in Redis, where another server finds it, over GET too", function()
    local q, hash = fresh()
    local res = post(a, { query = q, extensions = pq(hash) })
    assert.equal(200, res.status, res.body)
    local text = q:match('"(.-)"')
    assert.same({ data = { echo = text } }, response(res))
    assert.equal(q, h.redis_cli("GET", "gql:apq:" .. hash))
    local ttl = tonumber(h.redis_cli("TTL", "gql:apq:" .. hash))
    assert.is_true(ttl > 604800 - 60 and ttl <= 604800, tostring(ttl))
    -- the hash alone, on the server that stored it and on another one sharing the Redis
    for _, srv in ipairs { a, b } do
      res = post(srv, { extensions = pq(hash) }, { Accept = GQL })
      assert.equal(200, res.status, res.body)
      assert.same({ data = { echo = text } }, response(res))
      res = get(srv, { extensions = pq(hash:upper()) })
      assert.equal(200, res.status, res.body)
      assert.same({ data = { echo = text } }, response(res))
    end
  end)

  it("does not store a query that fails validation", function()
    local q = ('{ nope(text: "%s") }'):format(h.uniq("apq"))
    local _, hash = h.run({ "sh", "-c", "printf %s " .. h.shell_quote(q) .. " | sha256sum" })
    hash = hash:match("^(%x+)")
    assert_request_error(post(a, { query = q, extensions = pq(hash) }), 200,
      "GRAPHQL_VALIDATION_FAILED")
    assert.equal("0", h.redis_cli("EXISTS", "gql:apq:" .. hash))
  end)
end)

describe("limits", function()
  local srv, tight

  setup(function()
    srv = h.start{ scripts = FIXTURE }
    tight = h.start{ scripts = FIXTURE, env = { GRAPHQL_MAX_DEPTH = "3",
      GRAPHQL_MAX_ALIASES = "2", GRAPHQL_MAX_COMPLEXITY = "20", GRAPHQL_MAX_TOKENS = "200000" } }
  end)

  teardown(function()
    if srv then srv:stop() end
    if tight then tight:stop() end
  end)

  -- depth fields deep, one item per level (a complexity of depth)
  local function nested(depth)
    return "{ items(first: 1) { " .. string.rep("children(first: 1) { ", depth - 2) .. "id"
      .. string.rep(" }", depth - 2) .. " } }"
  end

  local function aliases(n)
    local parts = {}
    for i = 1, n do parts[i] = "a" .. i .. ": hello" end
    return "{ " .. table.concat(parts, " ") .. " }"
  end

  it("refuses a document deeper than GRAPHQL_MAX_DEPTH (default 15)", function()
    assert.equal(200, post(srv, { query = nested(15) }, { Accept = GQL }).status)
    local j = assert_request_error(post(srv, { query = nested(16) }, { Accept = GQL }), 400,
      "GRAPHQL_DEPTH_LIMIT", GQL)
    assert.truthy(j.errors[1].message:find("16", 1, true), j.errors[1].message)
    assert.equal(200, post(tight, { query = nested(3) }).status)
    assert_request_error(post(tight, { query = nested(4) }), 200, "GRAPHQL_DEPTH_LIMIT")
    -- through a fragment too
    assert_request_error(post(tight, {
      query = "{ items(first: 1) { ...F } } fragment F on Item { children(first: 1) { "
        .. "children(first: 1) { id } } }" }), 200,
      "GRAPHQL_DEPTH_LIMIT")
  end)

  it("refuses more aliases than GRAPHQL_MAX_ALIASES (default 30)", function()
    assert.equal(200, post(srv, { query = aliases(30) }).status)
    assert_request_error(post(srv, { query = aliases(31) }), 200, "GRAPHQL_ALIAS_LIMIT")
    assert.equal(200, post(tight, { query = aliases(2) }).status)
    assert_request_error(post(tight, { query = aliases(3) }), 200, "GRAPHQL_ALIAS_LIMIT")
  end)

  it("refuses a complexity above GRAPHQL_MAX_COMPLEXITY, lists counted by first or 10", function()
    -- 1 + 100 * (1 + 100 * 1) = 10101
    assert_request_error(post(srv, { query = "{ items(first: 100) { children(first: 100) "
      .. "{ id } } }" }, { Accept = GQL }), 400, "GRAPHQL_COMPLEXITY_LIMIT", GQL)
    -- 1 + 10 * (1 + 10 * (1 + 1)) = 211: under 1000, over 20
    local q = "{ items { children { id name } } }"
    assert.equal(200, post(srv, { query = q }).status)
    assert_request_error(post(tight, { query = q }), 200, "GRAPHQL_COMPLEXITY_LIMIT")
    -- 1 + 3 * 2 = 7
    assert.equal(200, post(tight, { query = "{ items(last: 3) { id name } }" }).status)
  end)

  it("counts a variable page size with each request's value, cached or not", function()
    local q = "query($n: Int) { items(first: $n) { children(first: $n) { id } } }"
    assert.equal(200, post(srv, { query = q, variables = { n = 3 } }).status)
    assert.equal(200, post(srv, { query = q, variables = { n = 3 } }).status)
    assert_request_error(post(srv, { query = q, variables = { n = 100 } }), 200,
      "GRAPHQL_COMPLEXITY_LIMIT")
    assert.equal(200, post(srv, { query = q, variables = { n = 2 } }).status)
  end)

  it("lets graphql-js's introspection query through the default limits", function()
    local code, text = h.run({ "node", "-e", "process.stdout.write(require('graphql')"
      .. ".getIntrospectionQuery())" }, { NODE_PATH = h.root .. "/spec/tools/js/node_modules" })
    assert.equal(0, code, text)
    local res = post(srv, { query = text })
    assert.equal(200, res.status, res.body)
    for _, e in ipairs(response(res).errors or {}) do
      assert.falsy(tostring(e.extensions and e.extensions.code):find("LIMIT"), e.message)
    end
  end)

  it("refuses introspection lists nested more than three deep", function()
    local q = "{ __schema { types { fields { type { fields { type { fields { type { fields "
      .. "{ name } } } } } } } } } }"
    assert_request_error(post(srv, { query = q }), 200, "GRAPHQL_DEPTH_LIMIT")
  end)

  it("refuses a document of more than GRAPHQL_MAX_TOKENS tokens (default 10000)", function()
    -- "{", 9,998 "hello" and "}": 10,000 tokens, which the parser takes (the fields then
    -- break the complexity limit); one more is refused by the parser
    assert_request_error(post(srv, { query = "{ " .. string.rep("hello ", 9998) .. "}" }), 200,
      "GRAPHQL_COMPLEXITY_LIMIT")
    local j = assert_request_error(post(srv, { query = "{ " .. string.rep("hello ", 9999) .. "}" },
      { Accept = GQL }), 400, "GRAPHQL_TOKEN_LIMIT", GQL)
    assert.truthy(j.errors[1].message:find("10000 tokens", 1, true), j.errors[1].message)
  end)
end)

describe("hostile documents", function()
  local srv, wide

  setup(function()
    srv = h.start{ scripts = FIXTURE }
    wide = h.start{ scripts = FIXTURE, env = { GRAPHQL_MAX_TOKENS = "100000" } }
  end)

  teardown(function()
    if srv then srv:stop() end
    if wide then wide:stop() end
  end)

  local function still_up(s)
    local res = post(s, { query = "{ hello }" })
    assert.equal(200, res.status, res.body)
    assert.is_table(s:healthz())
  end

  it("an unterminated string: a parse error", function()
    local j = assert_request_error(post(srv, { query = '{ echo(text: "abc) }' }), 200,
      "GRAPHQL_PARSE_FAILED")
    assert.truthy(j.errors[1].message:find("Unterminated string", 1, true), j.errors[1].message)
    still_up(srv)
  end)

  it("10,000 nested selection sets: the parser's depth limit", function()
    local q = string.rep("{ items ", 10000) .. string.rep("}", 10000)
    assert_request_error(post(srv, { query = q }), 200, "GRAPHQL_DEPTH_LIMIT")
    assert_request_error(post(wide, { query = q }), 200, "GRAPHQL_DEPTH_LIMIT")
    still_up(srv)
  end)

  it("a 1 MB document: the token limit", function()
    local q = "{ " .. string.rep("hello ", 170000) .. "}"
    assert.is_true(#q > 1000000)
    assert_request_error(post(srv, { query = q }), 200, "GRAPHQL_TOKEN_LIMIT")
    assert_request_error(post(wide, { query = q }), 200, "GRAPHQL_TOKEN_LIMIT")
    still_up(srv)
  end)

  it("5,000 aliases: the token limit, or the alias limit when tokens allow them", function()
    local parts = {}
    for i = 1, 5000 do parts[i] = "a" .. i .. ": hello" end
    local q = "{ " .. table.concat(parts, " ") .. " }"
    assert_request_error(post(srv, { query = q }), 200, "GRAPHQL_TOKEN_LIMIT")
    assert_request_error(post(wide, { query = q }), 200, "GRAPHQL_ALIAS_LIMIT")
    still_up(wide)
  end)

  it("a fragment spread exponentially: the complexity limit, measured once per fragment", function()
    local defs = { "query { ...F0 }", "fragment F0 on Query { ...F1 ...F1 hello }" }
    for i = 1, 40 do
      defs[#defs + 1] = ("fragment F%d on Query { ...F%d ...F%d hello }"):format(i, i + 1, i + 1)
    end
    defs[#defs + 1] = "fragment F41 on Query { hello }"
    -- every fragment's fields are on Query, so the document validates; its expansion is 2^41
    assert_request_error(post(srv, { query = table.concat(defs, "\n") }), 200,
      "GRAPHQL_COMPLEXITY_LIMIT")
    still_up(srv)
  end)

  it("deeply nested list variables: a bad request, or a coercion error", function()
    local deep = string.rep("[", 10000) .. string.rep("]", 10000)
    local res = srv:request{ method = "POST", path = "/graphql",
      headers = { ["Content-Type"] = JSON },
      body = '{"query":"query($t: String!) { echo(text: $t) }","variables":{"t":' .. deep .. "}}" }
    assert_request_error(res, 400, "BAD_REQUEST")
    -- as deep as the JSON reader allows, the executor refuses it as a String
    local within = string.rep("[", 60) .. "1" .. string.rep("]", 60)
    res = srv:request{ method = "POST", path = "/graphql",
      headers = { ["Content-Type"] = JSON, Accept = GQL },
      body = '{"query":"query($t: String!) { echo(text: $t) }","variables":{"t":' .. within
        .. "}}" }
    assert_request_error(res, 400, "BAD_USER_INPUT", GQL)
    local beyond = string.rep("[", 100) .. string.rep("]", 100)
    res = get(srv, { query = "query($t: String!) { echo(text: $t) }",
      variables = '{"t":' .. beyond .. "}" })
    assert_request_error(res, 400, "BAD_REQUEST")
    still_up(srv)
  end)
end)

describe("the document cache", function()
  local srv, small

  setup(function()
    srv = h.start{ scripts = FIXTURE }
    small = h.start{ scripts = FIXTURE, env = { GRAPHQL_CACHE_DOCUMENTS = "4" } }
  end)

  teardown(function()
    if srv then srv:stop() end
    if small then small:stop() end
  end)

  local function stats(s)
    local res = s:request{ path = "/cache" }
    assert.equal(200, res.status, res.body)
    return res.json.cache
  end

  it("parses and validates a query once, then answers it from the cache", function()
    local before = stats(srv)
    local q = ('{ echo(text: "%s") }'):format(h.uniq("cache"))
    for _ = 1, 3 do assert.equal(200, post(srv, { query = q }).status) end
    local after = stats(srv)
    assert.equal(before.misses + 1, after.misses)
    assert.equal(before.hits + 2, after.hits)
    assert.equal(before.documents + 1, after.documents)
    assert.equal(before.bytes + #q, after.bytes)
  end)

  it("keeps no document that failed", function()
    local before = stats(srv)
    assert.equal(200, post(srv, { query = "{ nope }" }).status)
    assert.equal(200, post(srv, { query = "{ nope }" }).status)
    local after = stats(srv)
    assert.equal(before.documents, after.documents)
    assert.equal(before.misses + 2, after.misses)
  end)

  it("is bounded by GRAPHQL_CACHE_DOCUMENTS", function()
    for i = 1, 12 do
      assert.equal(200, post(small, { query = ('{ echo(text: "%d") }'):format(i) }).status)
    end
    local s = stats(small)
    assert.is_true(s.documents <= 4, tostring(s.documents))
    assert.is_true(s.documents >= 2, tostring(s.documents))
    -- the most recent one is still there
    local before = stats(small).hits
    assert.equal(200, post(small, { query = '{ echo(text: "12") }' }).status)
    assert.equal(before + 1, stats(small).hits)
  end)
end)
