-- The seed's flow as a Postman collection (spec/postman/speezy.postman_collection.json) run by
-- newman against the live server on the application's own scripts/: send an OTP, read it from
-- the dev outbox, verify, /user/me, create a store, get it, replay the create with its
-- Idempotency-Key, and a create without a token. The outbox file is served to the collection
-- over loopback HTTP (python3 -m http.server), its URL passed as the outboxUrl variable.
local h = require "spec.helpers"
local cjson = require "cjson.safe"
local psignal = require "posix.signal"
local wait = require "posix.sys.wait"

local NEWMAN = h.root .. "/spec/tools/js/node_modules/.bin/newman"
local COLLECTION = h.root .. "/spec/postman/speezy.postman_collection.json"

describe("the Postman collection", function()
  local srv, files

  setup(function()
    srv = h.start_app{ scripts = h.relaxed_scripts() }
    local dir = srv.outbox_path:match("^(.*)/[^/]+$")
    local port = h.free_port()
    files = { port = port, pid = h.spawn({ "python3", "-m", "http.server", "--bind",
      "127.0.0.1", "--directory", dir, tostring(port) }, nil, h.tmpdir("files") .. "/out") }
    h.write_file(srv.outbox_path, "")
    files.url = ("http://127.0.0.1:%d/%s"):format(port, srv.outbox_path:match("[^/]+$"))
    assert(h.eventually(function()
      return h.run({ "curl", "-sf", "-o", "/dev/null", files.url }) == 0
    end, 10000, 50), "the outbox's file server did not start")
  end)

  teardown(function()
    if files and files.pid then
      psignal.kill(files.pid, psignal.SIGTERM)
      h.eventually(function() return wait.wait(files.pid, wait.WNOHANG) == files.pid end, 3000, 20)
    end
    if srv then srv:stop() end
  end)

  it("passes every request's tests under newman", function()
    local report = h.tmpdir("newman") .. "/report.json"
    local code, out = h.run({ NEWMAN, "run", COLLECTION,
      "--env-var", "baseUrl=http://127.0.0.1:" .. srv.port,
      "--env-var", "outboxUrl=" .. files.url,
      "--reporters", "cli,json", "--reporter-json-export", report, "--color", "off" })
    assert.equal(0, code, out)
    local run = assert(cjson.decode(h.read_file(report))).run
    assert.equal(0, run.stats.assertions.failed, out)
    assert.equal(0, #run.failures, out)
    -- every test of the collection ran (the outbox poll may add requests, never remove tests)
    assert.is_true(run.stats.assertions.total >= 8, out)
    assert.is_true(run.stats.requests.total >= 8, out)
  end)
end)
