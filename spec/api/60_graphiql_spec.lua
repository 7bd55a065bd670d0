-- GET /graphiql: GraphiQL served by the host (host/ui.c) from the graphiql, react and react-dom
-- packages `make deps` installs (UI_ASSETS_DIR), with no request leaving the machine. The
-- browser check runs Debian's Chromium through spec/tools/graphiql_browser.js, which prints
-- what the page did as JSON; the assertions on it are here. Running a query through the page
-- needs the GraphQL engine: spec/api/60_graphiql_run_spec.lua.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local ASSETS = h.root .. "/spec/tools/js/node_modules"
local BROWSER = h.root .. "/spec/tools/graphiql_browser.js"

-- The package files the page loads, by their path below /graphiql/, with their types.
local FILES = {
  ["graphiql/graphiql.min.js"] = "text/javascript; charset=utf-8",
  ["graphiql/graphiql.min.css"] = "text/css; charset=utf-8",
  ["react/umd/react.production.min.js"] = "text/javascript; charset=utf-8",
  ["react-dom/umd/react-dom.production.min.js"] = "text/javascript; charset=utf-8",
}

local function get(srv, path, headers)
  return srv:request{ method = "GET", path = path, headers = headers }
end

local function assert_page_headers(res)
  assert.equal("nosniff", res.headers["x-content-type-options"])
  local csp = res.headers["content-security-policy"]
  assert.is_string(csp)
  assert.truthy(csp:find("default-src 'self'", 1, true), csp)
  assert.truthy(csp:find("script-src 'self';", 1, true), csp)
  assert.truthy(csp:find("connect-src 'self';", 1, true), csp)
  assert.falsy(csp:find("http", 1, true), csp)
  assert.falsy(csp:find("*", 1, true), csp)
  assert.falsy(csp:find("unsafe", 1, true), csp)
end

describe("GET /graphiql", function()
  local srv

  setup(function()
    for name in pairs(FILES) do
      assert(io.open(ASSETS .. "/" .. name), name .. " is not installed under spec/tools/js: "
        .. "run make deps")
    end
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { UI_ASSETS_DIR = ASSETS } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("installs the pinned versions", function()
    local want = { graphiql = "4.1.2", react = "18.3.1", ["react-dom"] = "18.3.1" }
    for pkg, version in pairs(want) do
      local meta = cjson.decode(h.read_file(ASSETS .. "/" .. pkg .. "/package.json") or "")
      assert.equal(version, meta and meta.version, pkg)
    end
  end)

  it("serves the page, which loads React, GraphiQL and our script from this host", function()
    for _, path in ipairs { "/graphiql", "/graphiql/" } do
      local res = get(srv, path)
      assert.equal(200, res.status, res.body)
      assert.equal("text/html; charset=utf-8", res.headers["content-type"])
      assert_page_headers(res)
      assert.truthy(res.body:find('<div id="graphiql">', 1, true))
      for name in pairs(FILES) do
        local tag = name:find("%.css$") and 'href="/graphiql/' or 'src="/graphiql/'
        assert.truthy(res.body:find(tag .. name .. '"', 1, true), name)
      end
      assert.falsy(res.body:find("//", 1, true) and res.body:find("https?://"), res.body)
    end
    local script = get(srv, "/graphiql/speezy-graphiql.js")
    assert.equal(200, script.status)
    assert.equal("text/javascript; charset=utf-8", script.headers["content-type"])
    assert.truthy(script.body:find('url: "/graphql"', 1, true), script.body)
    assert_page_headers(script)
  end)

  it("serves the packages' files byte for byte, with an ETag and a day's cache", function()
    for name, ctype in pairs(FILES) do
      local res = get(srv, "/graphiql/" .. name)
      assert.equal(200, res.status, name)
      assert.equal(ctype, res.headers["content-type"], name)
      assert.equal(h.read_file(ASSETS .. "/" .. name), res.body, name)
      assert.equal("public, max-age=86400", res.headers["cache-control"], name)
      assert_page_headers(res)
      local etag = res.headers["etag"]
      assert.truthy(etag and etag:match('^"%x+"$'), name)
      assert.equal(304, get(srv, "/graphiql/" .. name, { ["If-None-Match"] = etag }).status)
    end
  end)

  it("serves no other file of the packages' folder, however the path is spelt", function()
    for _, path in ipairs { "/graphiql/graphiql/package.json", "/graphiql/graphiql/graphiql.js",
      "/graphiql/react/index.js", "/graphiql/swagger-ui-dist/swagger-ui.css",
      "/graphiql/../swagger-ui-dist/swagger-ui.css", "/graphiql/react/umd/../package.json",
      "/graphiql/%2e%2e/react/package.json", "/graphiql/graphiql.min.js",
      "/graphiql/graphiql/graphiql.min", "/graphiql/graphiql/graphiql.min.css.map" } do
      local res = get(srv, path)
      h.assert_error_envelope(res, 404, "NOT_FOUND")
      assert.falsy(res.body:find('"version"', 1, true), path)
    end
  end)

  it("answers only GET and HEAD", function()
    local res = srv:request{ method = "POST", path = "/graphiql", body = "" }
    h.assert_error_envelope(res, 405, "METHOD_NOT_ALLOWED")
    assert.equal("GET, HEAD", res.headers["allow"])
  end)

  it("renders in a browser with no request leaving the machine", function()
    local code, out = h.run({ "node", BROWSER, ("http://127.0.0.1:%d/graphiql"):format(srv.port) },
      nil, { timeout_ms = 120000 })
    assert.equal(0, code, out)
    local facts = cjson.decode(out:match("{.*}") or "")
    assert.is_table(facts, out)
    assert.same({}, facts.external)
    assert.same({}, facts.cspViolations)
    assert.same({}, facts.pageErrors)
    assert.equal("Speezy GraphiQL", facts.title)
    assert.is_true(facts.rendered, out)
    assert.truthy(tostring(facts.editor):find("GraphiQL", 1, true), out)
    -- GraphiQL asks /graphql for the schema as soon as it renders
    assert.is_true(facts.graphqlRequests >= 1, out)
    for _, path in ipairs { "/graphiql/graphiql/graphiql.min.js", "/graphiql/speezy-graphiql.js",
                            "/graphiql/react/umd/react.production.min.js" } do
      local seen = false
      for _, url in ipairs(facts.requests) do
        seen = seen or url == ("http://127.0.0.1:%d%s"):format(srv.port, path)
      end
      assert.is_true(seen, path .. " not requested: " .. out)
    end
  end)
end)

describe("GET /graphiql without the packages installed", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic",
                   env = { UI_ASSETS_DIR = h.tmpdir("no-ui") .. "/missing" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("answers 503 in the envelope and warns once, the host's own files still served", function()
    for _, path in ipairs { "/graphiql", "/graphiql/graphiql/graphiql.min.js", "/graphiql" } do
      h.assert_error_envelope(get(srv, path), 503, "UI_UNAVAILABLE")
    end
    assert.equal(200, get(srv, "/graphiql/speezy-graphiql.js").status)
    local _, warnings = srv:logs():gsub("GraphiQL is not installed", "")
    assert.equal(1, warnings, srv:logs())
    assert.equal(200, get(srv, "/hello").status)
  end)
end)
