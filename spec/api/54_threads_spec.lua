-- Light threads (core.spawn, core.wait; issue #17) through the real binary: two PostgreSQL
-- sleeps in two threads overlap on the server's own clock, results and errors of every kind come
-- back, a client that goes away or a deadline that passes cancels the threads (statements
-- cancelled on the server, the transaction rolled back, the pool whole, nothing resumed), a job
-- spawns too, and script top level is refused. The C side (ordering, cycles, misuse, flat
-- wake-ups) is spec/unit/test_thread.c. Routes: spec/fixtures/scripts/threads.
local h = require "spec.helpers"
local cjson = require "cjson.safe"

local SCRIPTS = "spec/fixtures/scripts/threads"

local seq = 0
local function phone()
  seq = seq + 1
  return ("6%08d%04d"):format(os.time() % 100000000, seq)
end

local function get(srv, path)
  local res = srv:request{ path = path, timeout_ms = 10000 }
  assert.equal(200, res.status, res.body)
  return res.json
end

-- The statements of /threads/hold PostgreSQL is running now (psql's own excluded).
local function holding(srv)
  return tonumber(h.must_psql(srv.env.DATABASE_URL, [[
    SELECT count(*) FROM pg_stat_activity
     WHERE state = 'active' AND query LIKE '%threads-hold%' AND pid <> pg_backend_pid()]]))
end

-- Sends POST /threads/hold on a connection of its own: its threads hold PostgreSQL (a 3 s
-- plain statement, a 20 s one in a transaction); returns the connection.
local function send_hold(srv, mark, p)
  local conn = srv:connect()
  assert(conn:send(h.format_request{ method = "POST", path = "/threads/hold",
    headers = { ["Content-Type"] = "application/json" },
    body = cjson.encode{ mark = mark, phone = p, s = 20, s_plain = 3 } }))
  return conn
end

-- send_hold, then waits until both statements run.
local function start_hold(srv, mark, p)
  local conn = send_hold(srv, mark, p)
  assert.truthy(h.eventually(function()
    return get(srv, "/threads/mark/" .. mark).mark == "inserted" and holding(srv) == 2
  end, 10000, 20), "the threads never reached PostgreSQL; log:\n" .. srv:log_tail())
  return conn
end

-- After a hold was cut short: the transaction's statement is cancelled on the server (the
-- plain one ends by itself after 3 s, its result dropped), every connection comes back, the
-- insert is rolled back, the ticker never runs again and the handler never reaches its end.
local function assert_all_cancelled(srv, mark, p)
  assert.truthy(h.eventually(function() return holding(srv) == 0 end, 10000, 20),
    "PostgreSQL still runs the threads' statements")
  assert.truthy(h.eventually(function() return get(srv, "/threads/stats").stats.busy == 0 end,
    5000, 20), "a connection stayed busy")
  assert.equal(0, get(srv, "/threads/users/" .. p).n)
  local ticks = get(srv, "/threads/mark/" .. mark).ticks
  h.sleep(300) -- 30 ticks' worth: a ticker still running would have moved
  local after = get(srv, "/threads/mark/" .. mark)
  assert.equal(ticks, after.ticks)
  assert.equal(cjson.null, after.done)
  assert.equal(200, srv:request{ path = "/readyz" }.status)
end

describe("light threads", function()
  local srv

  setup(function()
    -- one statement per connection: the two sleeps must not share a pipelined backend
    srv = h.start{ scripts = SCRIPTS, env = { PG_PIPELINE_DEPTH = "1", PG_POOL_SIZE = "4" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("runs two PostgreSQL sleeps in two threads at the same time", function()
    local j = get(srv, "/threads/overlap?s=0.3")
    local a, b = j.a, j.b
    assert.are_not.equal(a.pid, b.pid)
    assert.is_true(a.ended - a.started >= 0.3 and b.ended - b.started >= 0.3)
    -- each started before the other ended: one sleep, not two in a row
    assert.is_true(a.started < b.ended, cjson.encode(j))
    assert.is_true(b.started < a.ended, cjson.encode(j))
  end)

  it("gives back results, and errors as they were raised", function()
    local j = get(srv, "/threads/outcomes?tag=x")
    assert.is_true(j.rows.ok)
    assert.equal(42, j.rows.value[1].n)
    assert.same({ ok = true, value = "PONG" }, j.pong)
    -- a thread reads its request's fields like the handler
    assert.same({ ok = true, value = "/threads/outcomes", extra = "x" }, j.path)
    assert.same({ ok = false, code = "INVALID_INPUT", sqlstate = "22012", is_error = true },
      j.bad_sql)
    assert.same({ ok = false, status = 409, code = "TAKEN", details = { id = 7 } }, j.raised)
    assert.same({ ok = false, value = "plain failure" }, j.plain)
  end)

  it("cancels the threads when the client goes away", function()
    local mark, p = h.uniq("gone"), phone()
    local conn = start_hold(srv, mark, p)
    conn:close()
    assert_all_cancelled(srv, mark, p)
  end)

  it("lets a job spawn threads", function()
    local res = srv:post_json("/threads/job", { key = h.uniq("job") })
    assert.equal(200, res.status, res.body)
    local job = srv:wait_job_state(res.json.id, "completed")
    assert.same({ sum = 42, count = 3 }, job.result)
  end)

  it("refuses core.spawn at script top level, naming where", function()
    local j = get(srv, "/threads/toplevel")
    assert.is_false(j.ok)
    assert.matches("routes/threads%.lua:%d+: core%.spawn: threads run only inside a request", j.err)
  end)
end)

describe("light threads past the request deadline", function()
  local srv

  setup(function()
    srv = h.start{ scripts = SCRIPTS, env = { REQUEST_TIMEOUT_MS = "2000" } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("cancels the threads with the request", function()
    local mark, p = h.uniq("late"), phone()
    local conn = send_hold(srv, mark, p)
    local res = conn:read_response{ timeout_ms = 10000 }
    conn:close()
    h.assert_error_envelope(res, 504, "TIMEOUT")
    assert.equal("inserted", get(srv, "/threads/mark/" .. mark).mark) -- the threads had started
    assert_all_cancelled(srv, mark, p)
  end)
end)
