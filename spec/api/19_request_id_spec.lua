-- X-Request-Id (README "Logs"): a client's well-formed id (1 to 64 of A-Z a-z 0-9 - _ . :,
-- host/http.c valid_request_id) is kept; any other (empty, too long, quotes, spaces, non-ASCII,
-- control bytes) is replaced by a generated one, so what a client sends can never forge or
-- break a log line: the access log stays one valid JSON object per line.
-- Routes: spec/fixtures/scripts/basic.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

-- What the server makes: its random prefix (12 hex digits) and a counter (10 hex digits).
local GENERATED = "^%x+$"

-- One request with exactly this X-Request-Id line, written byte for byte.
local function request_with_id(srv, value)
  local raw = srv:raw("GET /missing HTTP/1.1\r\nHost: x\r\nX-Request-Id: " .. value
    .. "\r\nConnection: close\r\n\r\n", { wait_ms = 3000 })
  local list = h.parse_responses(raw)
  assert(list[1], ("no response to X-Request-Id %q: %s"):format(value, tostring(list.error)))
  return list[1]
end

-- Every line of the log is one JSON object; returns the access lines by request id.
local function access_lines(srv)
  local by_id = {}
  for line in srv:logs():gmatch("[^\n]+") do
    local obj = cjson.decode(line)
    assert(type(obj) == "table", "a log line is not a JSON object: " .. line)
    if obj.msg == "access" then
      by_id[obj.reqId] = by_id[obj.reqId] or {}
      table.insert(by_id[obj.reqId], obj)
    end
  end
  return by_id
end

describe("X-Request-Id", function()
  local srv

  setup(function()
    srv = h.start{ scripts = "spec/fixtures/scripts/basic", env = { WORKERS = "1" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  -- The response names the id in its header and envelope, and the log has exactly one access
  -- line under it.
  local function logged_once(res)
    local rid = res.headers["x-request-id"]
    assert.truthy(rid, "no X-Request-Id in " .. res.status_line)
    local j = h.assert_error_envelope(res, res.status)
    assert.equal(rid, j.requestId)
    local lines = h.eventually(function() return access_lines(srv)[rid] end, 3000)
    assert.truthy(lines, "no access line for " .. rid .. ":\n" .. srv:log_tail())
    assert.equal(1, #lines)
    assert.equal(res.status, lines[1].status)
    return rid
  end

  it("keeps a well-formed one, up to 64 characters of A-Z a-z 0-9 - _ . :", function()
    local ids = { "a", "client-id_1.2:3", ("Az09-_.:"):rep(8) }
    for _, id in ipairs(ids) do
      local res = request_with_id(srv, id)
      assert.equal(404, res.status)
      assert.equal(id, logged_once(res))
    end
  end)

  local malformed = {
    { "empty", "" },
    { "65 characters long", ("a"):rep(65) },
    { "with a double quote", 'x","level":"error","msg":"forged' },
    { "with a backslash", [[x\u0022y]] },
    { "with braces and a colon", "}{:" },
    { "with a space", "two words" },
    { "with a tab", "a\tb" },
    { "non-ASCII (UTF-8)", "\xC3\xA9t\xC3\xA9" },
    { "non-ASCII (a stray byte)", "a\xFFb" },
  }
  for _, case in ipairs(malformed) do
    it("replaces one " .. case[1] .. " by a generated id", function()
      local res = request_with_id(srv, case[2])
      assert.equal(404, res.status)
      local rid = logged_once(res)
      assert.not_equal(case[2], rid)
      assert.matches(GENERATED, rid)
      assert.equal(22, #rid)
    end)
  end

  -- A CR or LF inside the value ends the request at the parser (400): the id of that answer
  -- is generated too, and the bytes after the CR or LF never reach the log.
  for _, case in ipairs({ { "a CR", "a\rb" }, { "an LF", "a\nb" } }) do
    it("answers 400 with a generated id to one with " .. case[1] .. " in it", function()
      local res = request_with_id(srv, case[2] .. '","smuggled":"yes')
      assert.equal(400, res.status)
      local rid = logged_once(res)
      assert.matches(GENERATED, rid)
      assert.equal(22, #rid)
      assert.falsy(srv:logs():find("smuggled", 1, true), "the client's bytes reached the log")
    end)
  end
end)
