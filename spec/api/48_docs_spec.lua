-- GET /docs: the host's Swagger UI page (host/ui.c) over /openapi.json, served from the
-- swagger-ui-dist package `make deps` installs (UI_ASSETS_DIR), with no request leaving the
-- machine. The browser check runs Debian's Chromium through spec/tools/docs_browser.js, which
-- prints what the page did as JSON; the assertions on it are here.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local ASSETS = h.root .. "/spec/tools/js/node_modules"
local BROWSER = h.root .. "/spec/tools/docs_browser.js"

local function get(srv, path, headers)
  return srv:request{ method = "GET", path = path, headers = headers }
end

-- The headers every answer of a host page carries.
local function assert_page_headers(res)
  assert.equal("nosniff", res.headers["x-content-type-options"])
  local csp = res.headers["content-security-policy"]
  assert.is_string(csp)
  assert.truthy(csp:find("default-src 'self'", 1, true), csp)
  assert.truthy(csp:find("script-src 'self';", 1, true), csp)
  -- nothing but this host: no scheme, host or wildcard source anywhere in the policy, and no
  -- inline script or style ('unsafe-inline'), nor eval
  assert.falsy(csp:find("http", 1, true), csp)
  assert.falsy(csp:find("*", 1, true), csp)
  assert.falsy(csp:find("unsafe", 1, true), csp)
end

describe("GET /docs", function()
  local srv

  setup(function()
    assert(io.open(ASSETS .. "/swagger-ui-dist/swagger-ui-bundle.js"),
      "swagger-ui-dist is not installed under spec/tools/js: run make deps")
    srv = h.start{ scripts = "spec/fixtures/scripts/docs_guarded",
                   env = { UI_ASSETS_DIR = ASSETS } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("serves the Swagger UI page, pointing it at /openapi.json", function()
    local res = get(srv, "/docs")
    assert.equal(200, res.status)
    assert.equal("text/html; charset=utf-8", res.headers["content-type"])
    assert_page_headers(res)
    assert.truthy(res.body:find('<div id="swagger-ui">', 1, true))
    assert.truthy(res.body:find('src="/docs/swagger-ui-bundle.js"', 1, true))
    local init = get(srv, "/docs/speezy-docs.js")
    assert.equal(200, init.status)
    assert.equal("text/javascript; charset=utf-8", init.headers["content-type"])
    assert.truthy(init.body:find('url: "/openapi.json"', 1, true), init.body)
    assert_page_headers(init)
  end)

  it("is the host's own route: no application hook or route answers it", function()
    for _, path in ipairs { "/docs", "/docs/", "/docs/swagger-ui.css" } do
      local res = get(srv, path)
      assert.equal(200, res.status, path .. ": " .. res.body:sub(1, 200))
      assert.falsy(res.body:find("the application", 1, true), path)
    end
    -- the same application answers its own routes through its hook
    h.assert_error_envelope(get(srv, "/guarded"), 401, "UNAUTHORIZED")
  end)

  it("serves the package's files with their type, an ETag and a day's cache", function()
    local want = { ["swagger-ui-bundle.js"] = "text/javascript; charset=utf-8",
                   ["swagger-ui.css"] = "text/css; charset=utf-8",
                   ["favicon-32x32.png"] = "image/png" }
    for name, ctype in pairs(want) do
      local res = get(srv, "/docs/" .. name)
      assert.equal(200, res.status, name)
      assert.equal(ctype, res.headers["content-type"], name)
      assert.equal(h.read_file(ASSETS .. "/swagger-ui-dist/" .. name), res.body, name)
      assert.equal("public, max-age=86400", res.headers["cache-control"], name)
      assert_page_headers(res)
      local etag = res.headers["etag"]
      assert.truthy(etag and etag:match('^"%x+"$'), name)
      local again = get(srv, "/docs/" .. name, { ["If-None-Match"] = etag })
      assert.equal(304, again.status, name)
      assert.equal("", again.body)
      assert.equal(etag, again.headers["etag"])
      assert.equal(200, get(srv, "/docs/" .. name, { ["If-None-Match"] = '"0"' }).status)
    end
  end)

  it("serves no file its allowlist does not name, however the path is spelt", function()
    local paths = {
      "/docs/package.json", "/docs/index.html", "/docs/swagger-initializer.js", -- in the folder
      "/docs/../package.json", "/docs/../../../../etc/passwd", "/docs/./swagger-ui.css",
      "/docs/%2e%2e/package.json", "/docs/%2E%2E%2Fswagger-ui-dist%2Fpackage.json",
      "/docs/..%2fpackage.json", "/docs//etc/passwd",
      "/docs/" .. ASSETS .. "/swagger-ui-dist/package.json",
      "/docs/swagger-ui.css/", "/docs/swagger-ui.css%00", "/docs/SWAGGER-UI.CSS",
    }
    local passwd = h.read_file("/etc/passwd")
    for _, path in ipairs(paths) do
      local res = get(srv, path)
      h.assert_error_envelope(res, 404, "NOT_FOUND")
      assert.falsy(res.body:find('"version"', 1, true), path)
      assert.falsy(passwd and res.body:find(passwd:sub(1, 20), 1, true), path)
    end
    -- a path that only starts like the prefix is not the page's
    h.assert_error_envelope(get(srv, "/docsx"), 401, "UNAUTHORIZED")
  end)

  it("answers only GET and HEAD", function()
    for _, method in ipairs { "POST", "PUT", "DELETE" } do
      local res = srv:request{ method = method, path = "/docs", body = "" }
      h.assert_error_envelope(res, 405, "METHOD_NOT_ALLOWED")
      assert.equal("GET, HEAD", res.headers["allow"])
    end
    local head = srv:request{ method = "HEAD", path = "/docs/swagger-ui.css" }
    assert.equal(200, head.status)
    assert.equal("text/css; charset=utf-8", head.headers["content-type"])
  end)

  it("renders in a browser with no request leaving the machine", function()
    local code, out = h.run({ "node", BROWSER, ("http://127.0.0.1:%d/docs"):format(srv.port) },
      nil, { timeout_ms = 120000 })
    assert.equal(0, code, out)
    local facts = cjson.decode(out:match("{.*}") or "")
    assert.is_table(facts, out)
    assert.same({}, facts.external)
    assert.equal("Speezy API", facts.title)
    assert.is_true(facts.swaggerRendered, out)
    assert.is_true(facts.specRequested, out)
    assert.same({}, facts.cspViolations)
    assert.same({}, facts.pageErrors)
    -- the fixture's four routes, from /openapi.json (the host's: its hook refuses nothing there)
    assert.equal(200, facts.specStatus, out)
    assert.equal(cjson.null, facts.loadError, out)
    local ops = {}
    for _, op in ipairs(facts.operations) do ops[op] = true end
    for _, op in ipairs { "GET /docs", "GET /docs/swagger-ui.css", "GET /guarded", "GET /docsx" } do
      assert.is_true(ops[op], op .. " not listed: " .. out)
    end
    assert.equal(4, #facts.operations, out)
    assert.equal(#facts.operations, facts.expanded)
    for _, path in ipairs { "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js",
                            "/docs/speezy-docs.js" } do
      local seen = false
      for _, url in ipairs(facts.requests) do
        seen = seen or url == ("http://127.0.0.1:%d%s"):format(srv.port, path)
      end
      assert.is_true(seen, path .. " not requested: " .. out)
    end
  end)
end)

describe("GET /docs without the package installed", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic",
                   env = { UI_ASSETS_DIR = h.tmpdir("no-ui") .. "/missing" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("keeps serving, answers 503 in the envelope and warns once", function()
    assert.equal(200, get(srv, "/hello").status)
    for _, path in ipairs { "/docs", "/docs/swagger-ui.css", "/docs" } do
      local res = get(srv, path)
      h.assert_error_envelope(res, 503, "UI_UNAVAILABLE")
    end
    assert.equal(200, get(srv, "/docs/speezy-docs.js").status) -- the host's own file
    local _, warnings = srv:logs():gsub("Swagger UI is not installed", "")
    assert.equal(1, warnings, srv:logs())
    assert.equal(200, get(srv, "/hello").status)
  end)
end)
