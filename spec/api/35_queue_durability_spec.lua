-- The job queue's durability contract (issue #14), through the real binary: a job whose worker
-- dies runs again and completes once, or fails with STALLED past maxStalled; SIGTERM lets a
-- running job finish, or gives it back when the drain runs out of time; a reload changes the
-- code of the next job, not of the running one; a Redis restart loses no job.
-- The handlers (spec/fixtures/scripts/queue_durability) trace each run's start and end in
-- Redis, so the counts below are of runs, whatever happened to the process that ran them.
local h = require "spec.helpers"
local psignal = require "posix.signal"

local FIXTURE = "spec/fixtures/scripts/queue_durability"
-- Short locks so a dead worker's job is found quickly: checked every 1000 ms, and a healthy
-- job's lock is renewed every 1000 ms with another 1000 ms to spare on a loaded machine.
local LOCK_MS = "2000"

local function add(srv, queue, data, opts)
  local res = srv:post_json("/add", { queue = queue, data = data, opts = opts })
  assert(res.status == 200, "POST /add: " .. res.status_line .. " " .. res.body)
  return res.json.id
end

-- Waits until queue.get(id) shows state; returns the job or raises with what it was. A
-- request that fails meanwhile (no worker yet, Redis coming back) is asked again.
-- The pid of the only worker (WORKERS=1), as /healthz lists it.
local function worker_pid(srv)
  local hz = assert(srv:wait_ready())
  assert.equal(1, #hz.workers)
  return hz.workers[1].pid
end

local function kill_worker(srv)
  local pid = worker_pid(srv)
  assert(psignal.kill(pid, psignal.SIGKILL))
  return pid
end

local function attempts_of(list)
  local out = {}
  for i, r in ipairs(list) do out[i] = r.attempt end
  return out
end

describe("queue: a worker that dies mid-job", function()
  local srv
  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("runs the job again once the stalled check finds it, and it completes once", function()
    srv = h.start { scripts = FIXTURE, expect_crashes = true,
      env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS } }
    local key = h.uniq("kill")
    local id = add(srv, "dur.jobs", { key = key, sleep = 2500 })
    srv:wait_trace(key, "start", 1)
    local victim = kill_worker(srv)

    local job = srv:wait_job_state(id, "completed", 20000)
    assert.are_not.equal(victim, worker_pid(srv)) -- the master replaced it
    assert.same({ 1, 2 }, attempts_of(srv:job_trace(key, "start")))
    assert.same({ 2 }, attempts_of(srv:job_trace(key, "done")))
    assert.equal(1, job.stalled)
    assert.same({ v = "A", attempt = 2 }, job.result)
    assert.truthy(srv:logs():find('"state":"stalled"', 1, true), "no stalled log line")
    -- Nothing runs it a third time: two more stalled checks pass and the trace is the same.
    h.sleep(2500)
    assert.equal(2, #srv:job_trace(key, "start"))
    assert.equal(0, srv:request({ path = "/counts/dur.jobs" }).json.active)
  end)

  it("fails the job with STALLED when it stalls more than maxStalled (0) times", function()
    srv = h.start { scripts = FIXTURE, expect_crashes = true,
      env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS } }
    local key = h.uniq("fragile")
    local id = add(srv, "dur.fragile", { key = key, sleep = 5000 })
    srv:wait_trace(key, "start", 1)
    kill_worker(srv)

    local job = srv:wait_job_state(id, "failed", 20000)
    assert.equal("STALLED", job.failedCode)
    assert.truthy(job.failedReason:find("stalled 1 times", 1, true), job.failedReason)
    assert.equal(1, job.stalled)
    assert.equal(1, #srv:job_trace(key, "start"))
    assert.equal(0, #srv:job_trace(key, "done"))
  end)

  it("with the default maxStalled (1), runs it again after one stall, fails it after two",
    function()
      srv = h.start { scripts = FIXTURE, expect_crashes = true,
        env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS } }
      local key = h.uniq("twice")
      local id = add(srv, "dur.jobs", { key = key, sleep = 6000 })
      srv:wait_trace(key, "start", 1)
      kill_worker(srv)
      srv:wait_trace(key, "start", 2, 20000)
      assert.equal("active", srv:job(id).state)
      kill_worker(srv)

      local job = srv:wait_job_state(id, "failed", 20000)
      assert.equal("STALLED", job.failedCode)
      assert.equal(2, job.stalled)
      assert.same({ 1, 2 }, attempts_of(srv:job_trace(key, "start")))
      assert.equal(0, #srv:job_trace(key, "done"))
    end)
end)

describe("queue: SIGTERM while a job runs", function()
  local srv, after
  after_each(function()
    if srv then srv:stop() end
    if after then after:stop() end
    srv, after = nil, nil
  end)

  it("lets the job finish within DRAIN_TIMEOUT_MS; it is not run again", function()
    srv = h.start { scripts = FIXTURE,
      env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS, DRAIN_TIMEOUT_MS = "20000" } }
    local key = h.uniq("term")
    local id = add(srv, "dur.jobs", { key = key, sleep = 1500 })
    srv:wait_trace(key, "start", 1)
    srv:signal("TERM")
    assert.equal(0, srv:wait_exit(15000))
    assert.truthy(srv:logs():find('"state":"completed"', 1, true), "no completed log line")

    -- A consuming server started next finds it completed at once, and its stalled checks
    -- (every 1000 ms) leave it alone.
    after = h.start { scripts = FIXTURE, env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS } }
    local job = assert(after:job(id))
    assert.equal("completed", job.state)
    assert.same({ v = "A", attempt = 1 }, job.result)
    h.sleep(2500)
    assert.same({ 1 }, attempts_of(after:job_trace(key, "start")))
    assert.same({ 1 }, attempts_of(after:job_trace(key, "done")))
    assert.equal("completed", after:job(id).state)
  end)

  it("gives a job still running at the drain deadline back to waiting; the next start runs " ..
    "it once", function()
    srv = h.start { scripts = FIXTURE,
      env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS, DRAIN_TIMEOUT_MS = "300" } }
    local key = h.uniq("deadline")
    local id = add(srv, "dur.serial", { key = key, sleep = 4000 })
    srv:wait_trace(key, "start", 1)
    srv:signal("TERM")
    assert.equal(0, srv:wait_exit(15000))
    assert.truthy(srv:logs():find("gave 1 running job(s) back", 1, true), srv:log_tail())

    -- Given back, not failed: waiting, the attempt not counted, no failure recorded.
    after = h.start { scripts = FIXTURE, env = { WORKERS = "1", QUEUE_CONSUME = "0" } }
    local job = assert(after:job(id))
    assert.equal("waiting", job.state)
    assert.equal(0, job.attempt)
    assert.is_nil(job.failedCode)
    assert.equal(1, after:request({ path = "/counts/dur.serial" }).json.waiting)
    after:stop()

    after = h.start { scripts = FIXTURE, env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS } }
    job = after:wait_job_state(id, "completed", 20000)
    assert.equal(1, job.attempt)
    assert.same({ 1, 1 }, attempts_of(after:job_trace(key, "start")))
    assert.same({ 1 }, attempts_of(after:job_trace(key, "done")))
    h.sleep(2500)
    assert.equal(2, #after:job_trace(key, "start"))
  end)
end)

describe("queue: a reload between jobs", function()
  local srv
  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("runs the next job on the new generation, the running one ends on its own", function()
    local dir = h.copy_scripts(FIXTURE)
    srv = h.start { scripts = dir, env = { WORKERS = "1", QUEUE_LOCK_MS = LOCK_MS } }
    local gen_a = srv.generation

    local k1, k2, slow = h.uniq("gen1"), h.uniq("gen2"), h.uniq("genslow")
    local id1 = add(srv, "dur.jobs", { key = k1 })
    local r1 = srv:wait_trace(k1, "done", 1)[1]
    assert.equal(gen_a, r1.gen)
    assert.equal("A", r1.v)
    local id_slow = add(srv, "dur.jobs", { key = slow, sleep = 2500 })
    assert.equal(gen_a, srv:wait_trace(slow, "start", 1)[1].gen)

    h.write_file(dir .. "/jobs/version.lua", 'return "B"\n')
    local gen_b = srv:reload()
    assert.are_not.equal(gen_a, gen_b)

    local id2 = add(srv, "dur.jobs", { key = k2 })
    local r2 = srv:wait_trace(k2, "done", 1)[1]
    assert.equal(gen_b, r2.gen)
    assert.equal("B", r2.v)
    assert.same({ v = "B", attempt = 1 }, srv:wait_job_state(id2, "completed").result)
    assert.same({ v = "A", attempt = 1 }, srv:job(id1).result)

    -- The job that was running during the reload finished in the code it started with.
    local job = srv:wait_job_state(id_slow, "completed")
    assert.same({ v = "A", attempt = 1 }, job.result)
    local runs = srv:job_trace(slow)
    assert.equal(2, #runs)
    assert.same({ "start", "done" }, { runs[1].phase, runs[2].phase })
    assert.same({ "A", "A" }, { runs[1].v, runs[2].v })
    -- and core.generation() there names the generation it is pinned to, not the current one
    assert.same({ gen_a, gen_a }, { runs[1].gen, runs[2].gen })
  end)
end)

describe("queue: Redis restarted", function()
  local srv
  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  -- The harness' Redis must keep its data over a restart: appendonly yes. servers.sh writes
  -- redis.conf afresh at every start, so until its redis.conf says so itself, the AOF is
  -- turned on here (its first rewrite awaited) and the shutdown also writes a snapshot: a
  -- Redis started on a conf with appendonly no reads only that. Nothing to do once it does.
  local function keep_redis_data()
    local conf = h.read_file(h.servers().dir .. "/redis/redis.conf") or ""
    if conf:find("\nappendonly yes", 1, true) then return end
    if h.redis_cli("CONFIG", "GET", "appendonly"):find("yes", 1, true) == nil then
      assert.equal("OK", h.redis_cli("CONFIG", "SET", "appendonly", "yes"))
    end
    assert.equal("OK", h.redis_cli("CONFIG", "SET", "appendfsync", "everysec"))
    assert.equal("OK", h.redis_cli("CONFIG", "SET", "save", "3600 1"))
    assert(h.eventually(function()
      local info = h.redis_cli("INFO", "persistence")
      return info:find("aof_enabled:1", 1, true) and
        info:find("aof_rewrite_in_progress:0", 1, true) and
        info:find("aof_rewrite_scheduled:0", 1, true)
    end, 20000, 100), "the AOF rewrite did not finish")
  end

  it("loses none of the waiting, delayed and active jobs", function()
    keep_redis_data()
    srv = h.start { scripts = FIXTURE, env = { WORKERS = "1" } }
    local active, waiting, delayed = h.uniq("active"), h.uniq("waiting"), h.uniq("delayed")
    local ids = {}
    ids[active] = add(srv, "dur.serial", { key = active, sleep = 5000 })
    srv:wait_trace(active, "start", 1)
    ids[waiting] = add(srv, "dur.serial", { key = waiting }) -- behind it: concurrency 1
    ids[delayed] = add(srv, "dur.jobs", { key = delayed }, { delay = 2500 })
    assert.equal("active", srv:job(ids[active]).state)
    assert.equal("waiting", srv:job(ids[waiting]).state)
    assert.equal("delayed", srv:job(ids[delayed]).state)

    h.servers().restart_redis()

    for key, id in pairs(ids) do
      local job = srv:wait_job_state(id, "completed", 30000)
      assert.equal(1, job.attempt, key)
      assert.equal(1, #srv:job_trace(key, "start"), key)
      assert.equal(1, #srv:job_trace(key, "done"), key)
    end
  end)
end)
