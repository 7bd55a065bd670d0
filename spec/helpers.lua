-- spec/helpers.lua — the facade every API spec uses: start the real `speezy` binary on a free
-- loopback port, talk HTTP to it (whole requests, raw bytes, keep-alive connections), signal
-- and reload it, drive wrk, and reach the PostgreSQL/Redis servers the harness started.
--
-- Runs under LuaJIT with luasocket (TCP) and luaposix (fork/exec/kill/waitpid). A spec calls
-- `h.start{...}` in setup and `srv:stop()` in teardown; spec/run stops anything left behind
-- (every started PID is appended to $SPEEZY_TEST_PIDS).
--
-- spec/run points h.bin at the ASan+UBSan build (SPEEZY_BIN=build-san/speezy), so a memory
-- error on any path a spec drives ends up in a log. Nothing in a log fails a test by itself:
-- srv:stop() and h.run check the binary's output (h.misbehaviour) and raise, and spec/run
-- scans every log of an API file afterwards for the servers nobody stopped.
local socket = require "socket"
local cjson = require "cjson.safe"
local unistd = require "posix.unistd"
local fcntl = require "posix.fcntl"
local wait = require "posix.sys.wait"
local psignal = require "posix.signal"
local stdlib = require "posix.stdlib"

local h = {}

local function root()
  return os.getenv("SPEEZY_ROOT") or stdlib.realpath(".")
end

h.root = root()
h.bin = os.getenv("SPEEZY_BIN") or (h.root .. "/build/speezy")
-- The release build, for the few servers a sanitizer would make fail for its own reasons
-- (h.start{ release = "why" }).
h.release_bin = os.getenv("SPEEZY_RELEASE_BIN") or (h.root .. "/build/speezy")

-- What in the binary's output means it misbehaved, whatever a test asserted. A sanitizer
-- report (ASan, LeakSanitizer, UBSan's "file:line:col: runtime error:") always does; keep
-- these in step with SANITIZER_RE in spec/run. Each is looked for as plain text first (`mark`),
-- then matched on its line only: a pattern run over a whole log of 100k access lines would
-- take seconds.
local SANITIZER_REPORT = {
  { mark = "Sanitizer", "==%d+==ERROR: %a+Sanitizer", "%a+Sanitizer:DEADLYSIGNAL",
    "SUMMARY: %a+Sanitizer" },
  { mark = ": runtime error: ", "%S+:%d+:%d+: runtime error: " },
}
-- A worker the master had to restart (host/proc.c reap()) does, unless the test killed or
-- crashed it on purpose: h.start{ expect_crashes = true }. Keep in step with WORKER_DIED_RE.
local WORKER_DIED = {
  { mark = ": restarting", "worker %d+ %(pid %d+%) killed by signal %d+: restarting",
    "worker %d+ %(pid %d+%) exited with %d+: restarting" },
}

-- The lines of text that match one of the kinds: a list of { at = offset, line = text }.
local function matching_lines(text, kinds)
  local found = {}
  for _, kind in ipairs(kinds) do
    local from = 1
    while true do
      local at = text:find(kind.mark, from, true)
      if not at then break end
      local first = at
      while first > 1 and text:byte(first - 1) ~= 10 do first = first - 1 end
      local last = text:find("\n", at, true) or (#text + 1)
      local line = text:sub(first, last - 1)
      for _, pattern in ipairs(kind) do
        if line:find(pattern) then
          found[#found + 1] = { at = first, line = line }
          break
        end
      end
      from = last + 1
    end
  end
  table.sort(found, function(a, b) return a.at < b.at end)
  return found
end

-- nil, or what is wrong with a log of the binary: the sanitizer report (its first 60 lines)
-- or the lines of the workers that died. crashes_expected: worker deaths are the test's doing.
function h.misbehaviour(text, crashes_expected)
  local report = matching_lines(text, SANITIZER_REPORT)[1]
  if report then
    local lines = {}
    for line in (text:sub(report.at) .. "\n"):gmatch("(.-)\n") do
      if #lines == 60 then break end
      lines[#lines + 1] = line
    end
    return "a sanitizer report:\n" .. table.concat(lines, "\n")
  end
  if crashes_expected then return nil end
  local died = matching_lines(text, WORKER_DIED)
  if #died > 0 then
    local lines = {}
    for i = 1, math.min(#died, 10) do lines[i] = died[i].line end
    return "a worker died and was restarted (h.start{ expect_crashes = true } if the test " ..
      "meant it):\n" .. table.concat(lines, "\n")
  end
  return nil
end

-- Time and files -------------------------------------------------------------------------

function h.now_ms()
  return socket.gettime() * 1000
end

-- A name no other test of this run has used (job keys, jobIds, queue names): the harness'
-- Redis keeps what earlier files left.
local uniq_seq = 0
function h.uniq(what)
  uniq_seq = uniq_seq + 1
  return ("%s-%d-%d"):format(what, math.floor(h.now_ms()), uniq_seq)
end

function h.sleep(ms)
  socket.sleep(ms / 1000)
end

function h.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function h.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
h.shell_quote = shell_quote

-- Where a file under the harness' temp dir will be once spec/run has kept the file's logs
-- ($SPEEZY_TEST_KEPT), for messages that name a log; other paths as they are.
function h.kept_path(path)
  local tmp, kept = os.getenv("SPEEZY_TEST_TMP"), os.getenv("SPEEZY_TEST_KEPT")
  if tmp and kept and path:sub(1, #tmp + 1) == tmp .. "/" then
    return kept .. path:sub(#tmp + 1)
  end
  return path
end

-- A fresh directory under the harness' temp dir (removed by spec/run) or /tmp.
function h.tmpdir(prefix)
  local base = os.getenv("SPEEZY_TEST_TMP") or "/tmp"
  return assert(stdlib.mkdtemp(base .. "/" .. (prefix or "speezy") .. "-XXXXXX"))
end

-- Copies a fixture script tree into a temp dir so a test can edit it and reload.
function h.copy_scripts(src)
  local dir = h.tmpdir("scripts")
  local abs = src:sub(1, 1) == "/" and src or (h.root .. "/" .. src)
  assert(os.execute("cp -R " .. shell_quote(abs) .. "/. " .. shell_quote(dir)) == 0,
    "copy_scripts failed for " .. src)
  return dir
end

-- Polls fn every step_ms until it returns a truthy value or timeout_ms passes.
function h.eventually(fn, timeout_ms, step_ms)
  local deadline = h.now_ms() + (timeout_ms or 5000)
  repeat
    local v = fn()
    if v then return v end
    h.sleep(step_ms or 50)
  until h.now_ms() > deadline
  return nil
end

-- Processes ------------------------------------------------------------------------------

local function track_pid(pid)
  local path = os.getenv("SPEEZY_TEST_PIDS")
  if not path then return end
  local f = io.open(path, "a")
  if f then
    f:write(pid, "\n")
    f:close()
  end
end

-- fork + exec argv with env overrides (false unsets), stdout+stderr appended to out_path.
-- The child only makes system calls before exec: it shares the parent's Lua state.
local function spawn(argv, env, out_path, cwd)
  local pid = assert(unistd.fork())
  if pid ~= 0 then
    track_pid(pid)
    return pid
  end
  pcall(function()
    if cwd then unistd.chdir(cwd) end
    local nul = fcntl.open("/dev/null", fcntl.O_RDONLY)
    if nul then unistd.dup2(nul, 0) end
    local out = fcntl.open(out_path or "/dev/null",
      fcntl.O_WRONLY + fcntl.O_CREAT + fcntl.O_APPEND, 420)
    if out then
      unistd.dup2(out, 1)
      unistd.dup2(out, 2)
    end
    for k, v in pairs(env or {}) do
      if v == false then stdlib.setenv(k, nil) else stdlib.setenv(k, tostring(v)) end
    end
    local args = { [0] = argv[1] }
    for i = 2, #argv do args[i - 1] = argv[i] end
    local _, err = unistd.execp(argv[1], args)
    unistd.write(2, "spawn: cannot exec " .. argv[1] .. ": " .. tostring(err) .. "\n")
  end)
  unistd._exit(127)
end
h.spawn = spawn

local function exit_code(how, status)
  if how == "exited" then return status end
  return 128 + (status or 0)
end

-- Non-blocking check: the exit code if pid has exited (reaped once, then remembered).
local function poll_exit(proc)
  if proc.exit_code then return proc.exit_code end
  local pid, how, status = wait.wait(proc.pid, wait.WNOHANG)
  if pid == proc.pid then
    proc.exit_code = exit_code(how, status)
  elseif pid == nil then
    proc.exit_code = -1 -- not our child any more (already reaped elsewhere)
  end
  return proc.exit_code
end

local function wait_exit(proc, ms)
  h.eventually(function() return poll_exit(proc) end, ms or 5000, 20)
  return proc.exit_code
end

-- Runs argv to completion; returns exit code and combined output.
function h.run(argv, env, opts)
  opts = opts or {}
  local dir = h.tmpdir("run")
  local out = dir .. "/out"
  local proc = { pid = spawn(argv, env, out, opts.cwd) }
  local code = wait_exit(proc, opts.timeout_ms or 30000)
  if not code then
    psignal.kill(proc.pid, psignal.SIGKILL)
    code = wait_exit(proc, 2000)
  end
  local text = h.read_file(out) or ""
  -- The binary's own commands (check, reload, migrate) get the same scrutiny as a server;
  -- "checked" tells spec/run's scan that this output was judged here.
  if argv[1] == h.bin or argv[1] == h.release_bin then
    h.write_file(dir .. "/checked", "")
    local problem = h.misbehaviour(text, true)
    if problem then
      error(("%s %s (exit %s, output in %s) left %s"):format(argv[1],
        table.concat(argv, " ", 2), tostring(code), h.kept_path(out), problem), 2)
    end
  end
  return code, text
end

-- Child PIDs of pid, read from /proc (the workers of a master).
function h.children(pid)
  local kids = {}
  local p = io.popen("ls /proc")
  for name in p:lines() do
    if name:match("^%d+$") then
      local stat = h.read_file("/proc/" .. name .. "/stat")
      local ppid = stat and stat:match("%)%s+%S+%s+(%d+)")
      if ppid and tonumber(ppid) == pid then kids[#kids + 1] = tonumber(name) end
    end
  end
  p:close()
  table.sort(kids)
  return kids
end

-- HTTP over luasocket --------------------------------------------------------------------

-- Formats one request. headers: map or list of {name, value}; Host and Content-Length are
-- added unless given (or t.no_length is set).
function h.format_request(t)
  local lines = { ("%s %s %s"):format(t.method or "GET", t.path or "/", t.version or "HTTP/1.1") }
  local seen = {}
  local function add(name, value)
    seen[name:lower()] = true
    lines[#lines + 1] = name .. ": " .. value
  end
  local hdrs = t.headers or {}
  if hdrs[1] then
    for _, kv in ipairs(hdrs) do add(kv[1], kv[2]) end
  else
    local names = {}
    for k in pairs(hdrs) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do add(k, hdrs[k]) end
  end
  if not seen.host then add("Host", t.host or "127.0.0.1") end
  local framed = seen["content-length"] or seen["transfer-encoding"] or t.no_length
  if t.body and not framed then
    add("Content-Length", tostring(#t.body))
  end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (t.body or "")
end

-- A byte source the response parser reads: a socket (fill waits on select) or a string.
local Source = {}
Source.__index = Source

local function string_source(s)
  return setmetatable({ buf = s, eof = true }, Source)
end

-- Reads whatever is available within the deadline; false when nothing more will come.
function Source:fill(deadline)
  if self.eof or not self.sock then return false end
  local left = (deadline - h.now_ms()) / 1000
  if left <= 0 then return false, "timeout" end
  local ready = socket.select({ self.sock }, nil, left)
  if not ready[1] then return false, "timeout" end
  self.sock:settimeout(0)
  local data, err, partial = self.sock:receive(65536)
  data = data or partial
  if data and #data > 0 then
    self.buf = self.buf .. data
    return true
  end
  if err == "closed" or err ~= "timeout" then
    self.eof = true
    self.err = err
    return false, "closed"
  end
  return true
end

function Source:need(n, deadline)
  while #self.buf < n do
    local ok, err = self:fill(deadline)
    if not ok then return nil, err or "closed" end
  end
  return true
end

function Source:line(deadline)
  while true do
    local i = self.buf:find("\r\n", 1, true)
    if i then
      local line = self.buf:sub(1, i - 1)
      self.buf = self.buf:sub(i + 2)
      return line
    end
    local ok, err = self:fill(deadline)
    if not ok then return nil, err or "closed" end
  end
end

function Source:take(n, deadline)
  local ok, err = self:need(n, deadline)
  if not ok then return nil, err end
  local s = self.buf:sub(1, n)
  self.buf = self.buf:sub(n + 1)
  return s
end

function Source:rest(deadline)
  while self:fill(deadline) do end
  local s = self.buf
  self.buf = ""
  return s
end

local function read_chunked(src, deadline)
  local parts = {}
  while true do
    local line, err = src:line(deadline)
    if not line then return nil, err end
    local size = tonumber(line:match("^%x+"), 16)
    if not size then return nil, "bad chunk size: " .. line end
    if size == 0 then
      repeat
        line, err = src:line(deadline)
        if not line then return nil, err end
      until line == ""
      return table.concat(parts)
    end
    local data
    data, err = src:take(size + 2, deadline)
    if not data then return nil, err end
    parts[#parts + 1] = data:sub(1, size)
  end
end

-- Parses one response off src. opts.head: the request was HEAD (no body follows).
local function read_response(src, opts, deadline)
  local status_line, err = src:line(deadline)
  if not status_line then return nil, err end
  local version, status, reason = status_line:match("^(HTTP/%d%.%d) (%d%d%d) ?(.*)$")
  if not version then return nil, "bad status line: " .. status_line end
  local res = { version = version, status = tonumber(status), reason = reason, headers = {},
    header_list = {}, status_line = status_line }
  while true do
    local line
    line, err = src:line(deadline)
    if not line then return nil, err end
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if not name then return nil, "bad header line: " .. line end
    res.header_list[#res.header_list + 1] = { name, value }
    local key = name:lower()
    res.headers[key] = res.headers[key] and (res.headers[key] .. ", " .. value) or value
  end
  local len = tonumber(res.headers["content-length"])
  local te = (res.headers["transfer-encoding"] or ""):lower()
  if opts.head or res.status < 200 or res.status == 204 or res.status == 304 then
    res.body = ""
  elseif te:find("chunked", 1, true) then
    res.body, err = read_chunked(src, deadline)
  elseif len then
    res.body, err = src:take(len, deadline)
  else
    res.body = src:rest(deadline)
  end
  if not res.body then return nil, err end
  res.json = cjson.decode(res.body)
  return res
end

-- Splits bytes captured from a connection into responses (pipelining, raw tests).
function h.parse_responses(raw, opts)
  local src = string_source(raw)
  local list = {}
  while #src.buf > 0 do
    local res, err = read_response(src, opts or {}, h.now_ms())
    if not res then
      list.error = err
      break
    end
    list[#list + 1] = res
  end
  return list
end

-- A keep-alive client connection.
local Conn = {}
Conn.__index = Conn

local function connect(port, timeout_ms)
  local sock = socket.tcp()
  sock:settimeout((timeout_ms or 2000) / 1000)
  local ok, err = sock:connect("127.0.0.1", port)
  if not ok then
    sock:close()
    return nil, err
  end
  sock:setoption("tcp-nodelay", true)
  return setmetatable({ sock = sock, src = setmetatable({ sock = sock, buf = "" }, Source) }, Conn)
end

function Conn:send(bytes)
  self.sock:settimeout(5)
  local i, err = self.sock:send(bytes)
  if not i then return nil, err end
  return true
end

-- Sends bytes a piece at a time with a pause between pieces (slow clients, split chunks).
function Conn:send_slowly(bytes, piece, pause_ms)
  for i = 1, #bytes, piece do
    local ok, err = self:send(bytes:sub(i, i + piece - 1))
    if not ok then return nil, err end
    h.sleep(pause_ms)
  end
  return true
end

-- One response; opts.head for HEAD requests, opts.timeout_ms (default 5000).
function Conn:read_response(opts)
  opts = opts or {}
  return read_response(self.src, opts, h.now_ms() + (opts.timeout_ms or 5000))
end

-- Everything received within wait_ms (or until the peer closes).
function Conn:read_all(wait_ms)
  return self.src:rest(h.now_ms() + (wait_ms or 1000))
end

-- Did the peer close (EOF or reset) within wait_ms? Data that arrives meanwhile is kept.
function Conn:closed(wait_ms)
  local deadline = h.now_ms() + math.max(wait_ms or 0, 1)
  while not self.src.eof do
    local ok, err = self.src:fill(deadline)
    if not ok and err == "timeout" then break end
  end
  return self.src.eof == true
end

function Conn:close()
  self.sock:close()
end

-- Servers -----------------------------------------------------------------------------------

local Server = {}
Server.__index = Server

function h.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function merge_env(base, extra)
  for k, v in pairs(extra or {}) do base[k] = v end
  return base
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return h.root .. "/" .. path
end

-- Starts `speezy serve` (or opts.command); waits for GET /healthz unless opts.wait == false.
-- opts: scripts (dir), env (map; false unsets), args (extra argv), ready_timeout_ms,
-- expect_crashes (the test kills or crashes workers on purpose: see Server:check), release
-- (why this server must run the release binary rather than h.bin: what it measures, memory
-- or time, is not what it would be under the sanitizers; spec/run's header lists them).
function h.start(opts)
  opts = opts or {}
  assert(opts.release == nil or (type(opts.release) == "string" and #opts.release > 0),
    "h.start{ release = ... } takes the reason")
  local bin = opts.release and h.release_bin or h.bin
  assert(unistd.access(bin, "x"), bin .. " is missing or not executable (make build build-san)")
  local dir = h.tmpdir("srv")
  local srv = setmetatable({ dir = dir, log_path = dir .. "/speezy.log",
    pid_file = dir .. "/speezy.pid", port = opts.port or h.free_port(),
    expect_crashes = opts.expect_crashes == true }, Server)
  -- for spec/run's scan, should nobody stop this server
  if srv.expect_crashes then h.write_file(dir .. "/expect_crashes", "") end
  srv.env = merge_env({
    SPEEZY_ENV = "test",
    DATABASE_URL = os.getenv("SPEEZY_TEST_DATABASE_URL") or false,
    REDIS_URL = os.getenv("SPEEZY_TEST_REDIS_URL") or false,
    HOST = "127.0.0.1",
    PORT = srv.port,
    SCRIPTS_DIR = absolute(opts.scripts or "spec/fixtures/scripts/basic"),
    PID_FILE = srv.pid_file,
    LOG_LEVEL = "info",
    WORKERS = "1",
  }, opts.env)
  local argv = { bin, opts.command or "serve" } -- "jobs": consumers only, no /healthz to wait on
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  -- cwd is the server's own dir so a developer's ./.env never leaks into a test.
  srv.pid = spawn(argv, srv.env, srv.log_path, dir)
  if opts.wait ~= false then srv:wait_ready(opts.ready_timeout_ms) end
  return srv
end

function Server:logs()
  return h.read_file(self.log_path) or ""
end

function Server:log_tail(n)
  local text = self:logs()
  return text:sub(-(n or 3000))
end

-- Log lines decoded as JSON (lines that are not JSON are skipped).
function Server:log_lines()
  local list = {}
  for line in self:logs():gmatch("[^\n]+") do
    local obj = cjson.decode(line)
    if type(obj) == "table" then list[#list + 1] = obj end
  end
  return list
end

-- Polls the log until pattern (plain text) appears; returns true or false.
function Server:wait_log(text, timeout_ms)
  return h.eventually(function() return self:logs():find(text, 1, true) ~= nil end,
    timeout_ms or 5000) == true
end

function Server:exited()
  return poll_exit(self)
end

function Server:wait_exit(ms)
  return wait_exit(self, ms)
end

function Server:healthz()
  local ok, res = pcall(self.request, self, { path = "/healthz", timeout_ms = 1000 })
  if ok and res.status == 200 and res.json then return res.json end
  return nil
end

function Server:wait_ready(timeout_ms)
  local deadline = h.now_ms() + (timeout_ms or 15000)
  while h.now_ms() < deadline do
    local code = self:exited()
    if code then
      error(("speezy exited with code %d before answering /healthz; log:\n%s"):format(
        code, self:log_tail()), 2)
    end
    -- every worker has loaded its scripts (it lists itself once it has) and they agree: a
    -- test that edits the scripts next must not race a worker still reading them
    local hz = self:healthz()
    local want = tonumber(self.env.WORKERS) or 1
    if hz and #hz.workers >= want and hz.consistent ~= false then
      self.generation = hz.generation
      return hz
    end
    h.sleep(50)
  end
  error("speezy did not answer /healthz with every worker in time; log:\n" .. self:log_tail(), 2)
end

function Server:connect(timeout_ms)
  local conn, err = connect(self.port, timeout_ms)
  if not conn then error("connect to 127.0.0.1:" .. self.port .. " failed: " .. err, 2) end
  return conn
end

-- One request on a new connection; raises on transport failure (a test asserts on res).
-- t: method, path, headers, body, version, timeout_ms.
function Server:request(t)
  t = t or {}
  local conn = self:connect()
  local ok, err = conn:send(h.format_request(t))
  if not ok then
    conn:close()
    error("send failed: " .. tostring(err), 2)
  end
  local res
  res, err = conn:read_response({ head = t.method == "HEAD", timeout_ms = t.timeout_ms })
  conn:close()
  if not res then error(("%s %s: no response (%s)"):format(t.method or "GET",
      t.path or "/", tostring(err)), 2) end
  return res
end

-- Raw bytes on a new connection: returns what came back within opts.wait_ms (or until the
-- peer closed) and whether the peer closed.
function Server:raw(bytes, opts)
  opts = opts or {}
  local conn = self:connect()
  conn:send(bytes)
  local data = conn:read_all(opts.wait_ms or 1000)
  local closed = conn.src.eof == true
  if opts.close ~= false then conn:close() end
  return data, closed, conn
end

function Server:signal(name)
  return psignal.kill(self.pid, psignal["SIG" .. name])
end

-- The master's worker processes.
function Server:workers()
  return h.children(self.pid)
end

-- Waits until /healthz shows a generation other than `from` on several fresh connections in
-- a row (every worker swapped). Returns the new generation or raises.
function Server:wait_generation_change(from, timeout_ms)
  local streak, gen = 0, nil
  local need = 2 * tonumber(self.env.WORKERS or 1) + 1
  local ok = h.eventually(function()
    local hz = self:healthz()
    -- consistent: every live worker serves the generation this one does
    if hz and hz.generation ~= from and hz.consistent ~= false then
      if hz.generation ~= gen then streak = 0 end
      gen = hz.generation
      streak = streak + 1
    else
      streak = 0
    end
    return streak >= need
  end, timeout_ms or 10000, 20)
  if not ok then
    error("generation did not change from " .. tostring(from) .. "; log:\n" .. self:log_tail(), 2)
  end
  self.generation = gen
  return gen
end

-- SIGHUP (or `speezy reload` with opts.via == "cli"), then wait for the new generation.
function Server:reload(opts)
  opts = opts or {}
  local from = (self:healthz() or {}).generation or self.generation
  if opts.via == "cli" then
    local code, out = h.run({ h.bin, "reload" }, self.env, { cwd = self.dir })
    if code ~= 0 then error("speezy reload exited " .. code .. ": " .. out, 2) end
  else
    self:signal("HUP")
  end
  return self:wait_generation_change(from, opts.timeout_ms)
end

-- Raises when the server's log shows a sanitizer report, or a worker the master restarted
-- that the test did not kill on purpose (h.start{ expect_crashes = true }); and when a server
-- this stop() sent SIGTERM exited non-zero by itself (a worker died while draining: the
-- master only says so by its exit code). Once per server; stop() calls it.
function Server:check(termed)
  if self.checked then return end
  self.checked = true
  h.write_file(self.dir .. "/checked", "")
  local problem = h.misbehaviour(self:logs(), self.expect_crashes)
  if not problem and termed and (self.exit_code or 0) > 0 and self.exit_code ~= 128 + 9 and
    not self.expect_crashes then
    problem = ("exit code %d after SIGTERM; log:\n%s"):format(self.exit_code, self:log_tail(1500))
  end
  if problem then
    error(("speezy on port %d (%s) shows %s"):format(self.port, h.kept_path(self.log_path),
      problem), 3)
  end
end

-- TERM, then KILL after 5 s; also kills workers a killed master left behind. Then checks the
-- log (Server:check), which raises in the test or hook that stopped the server.
function Server:stop()
  local termed = false
  if not self:exited() then
    termed = true
    local workers = self:workers()
    self:signal("TERM")
    if not self:wait_exit(5000) then
      psignal.kill(self.pid, psignal.SIGKILL)
      self:wait_exit(2000)
    end
    for _, pid in ipairs(workers) do psignal.kill(pid, psignal.SIGKILL) end
  end
  self:check(termed)
  return self.exit_code
end

-- wrk ------------------------------------------------------------------------------------

local Wrk = {}
Wrk.__index = Wrk

local function parse_wrk(out)
  local r = { output = out }
  r.requests = tonumber(out:match("(%d+) requests in")) or 0
  r.rps = tonumber(out:match("Requests/sec:%s*([%d%.]+)")) or 0
  local c, rd, w, t = out:match(
    "Socket errors: connect (%d+), read (%d+), write (%d+), timeout (%d+)")
  r.connect_errors, r.read_errors = tonumber(c) or 0, tonumber(rd) or 0
  r.write_errors, r.timeout_errors = tonumber(w) or 0, tonumber(t) or 0
  r.errors = r.connect_errors + r.read_errors + r.write_errors + r.timeout_errors
  r.non2xx = tonumber(out:match("Non%-2xx or 3xx responses: (%d+)")) or 0
  r.p99 = out:match("99%%%s+(%S+)")
  r.ok = out:find("requests in", 1, true) ~= nil
  return r
end
h.parse_wrk = parse_wrk

-- Starts wrk in the background: port, path, connections, threads, duration_s, script, latency.
function h.wrk_start(o)
  local dir = h.tmpdir("wrk")
  local argv = { "wrk", "-t" .. (o.threads or 1), "-c" .. (o.connections or 10),
    "-d" .. (o.duration_s or 5) .. "s", "--timeout", (o.timeout_s or 5) .. "s" }
  if o.latency then argv[#argv + 1] = "--latency" end
  if o.script then argv[#argv + 1] = "-s"; argv[#argv + 1] = absolute(o.script) end
  argv[#argv + 1] = ("http://127.0.0.1:%d%s"):format(o.port, o.path or "/")
  local w = setmetatable({ out = dir .. "/wrk.out" }, Wrk)
  w.pid = spawn(argv, o.env, w.out)
  return w
end

-- Waits for wrk to finish and returns its parsed results.
function Wrk:wait(timeout_ms)
  if not wait_exit(self, timeout_ms or 120000) then
    psignal.kill(self.pid, psignal.SIGKILL)
    wait_exit(self, 2000)
  end
  local r = parse_wrk(h.read_file(self.out) or "")
  r.exit_code = self.exit_code
  return r
end

-- Stops wrk early (SIGINT makes it print its summary) and returns the results.
function Wrk:stop()
  psignal.kill(self.pid, psignal.SIGINT)
  return self:wait(10000)
end

function h.wrk(o)
  return h.wrk_start(o):wait(((o.duration_s or 5) + 30) * 1000)
end

-- A wrk script that tallies statuses, and for non-200 answers whether they are an error
-- envelope and which code: one "STATUS <status> <code>=<n>" line per thread and key.
local WRK_STATUS = [[
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
statuses = {}
function response(status, _, body)
  local key = tostring(status)
  if status ~= 200 then
    local enveloped = body:find('"success":false', 1, true) and body:find('"requestId":"', 1, true)
    key = key .. " " .. (enveloped and body:match('"code":"([%u%d_]+)"') or "NO_ENVELOPE")
  end
  statuses[key] = (statuses[key] or 0) + 1
end
function done()
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do io.write("STATUS ", k, "=", v, "\n") end
  end
end
]]

-- Writes that script to a temp file and returns its path, for h.wrk_start{ script = ... }.
-- o.method: the request method wrk sends (its default, GET, when not given).
function h.wrk_status_script(o)
  o = o or {}
  local path = h.tmpdir("wrk-script") .. "/status.lua"
  local method = o.method and ("wrk.method = %q\n"):format(o.method) or ""
  h.write_file(path, method .. WRK_STATUS)
  return path
end

-- What a run with h.wrk_status_script answered: count per "<status>" (200) or
-- "<status> <CODE>" (otherwise; NO_ENVELOPE when the body was not an error envelope).
function h.tally_statuses(r)
  local t = {}
  for k, v in r.output:gmatch("STATUS ([^=\n]+)=(%d+)") do t[k] = (t[k] or 0) + tonumber(v) end
  return t
end

-- PostgreSQL / Redis from the harness --------------------------------------------------------

-- The servers spec/run started (spec/tools/servers.sh), with controls to restart them. Both
-- need the folder's own passwords (pg_password, redis_password), which their URLs carry.
function h.servers()
  local dir = os.getenv("SPEEZY_TEST_SERVERS_DIR")
  local envfile = dir and h.read_file(dir .. "/env") or ""
  local passwords = dir and h.read_file(dir .. "/passwords") or ""
  local s = {
    dir = dir,
    database_url = os.getenv("SPEEZY_TEST_DATABASE_URL") or envfile:match("DATABASE_URL=([^\n]+)"),
    redis_url = os.getenv("SPEEZY_TEST_REDIS_URL") or envfile:match("REDIS_URL=([^\n]+)"),
    pg_port = tonumber(envfile:match("PG_PORT=(%d+)")),
    redis_port = tonumber(envfile:match("REDIS_PORT=(%d+)")),
    pgdata = envfile:match("PGDATA=([^\n]+)"),
    pg_password = passwords:match("PG_PASSWORD=(%x+)"),
    redis_password = passwords:match("REDIS_PASSWORD=(%x+)"),
  }
  local tool = h.root .. "/spec/tools/servers.sh"
  for _, cmd in ipairs({ "stop-pg", "start-pg", "restart-pg", "stop-redis", "start-redis",
    "restart-redis", "freeze-pg", "thaw-pg", "freeze-redis", "thaw-redis" }) do
    s[cmd:gsub("%-", "_")] = function()
      assert(dir, "SPEEZY_TEST_SERVERS_DIR is not set (run the specs through spec/run)")
      local code, out = h.run({ tool, cmd, dir }, nil, { timeout_ms = 60000 })
      assert(code == 0, "servers.sh " .. cmd .. " failed: " .. out)
    end
  end
  return s
end

-- psql's trimmed output of sql against url. It never prompts and reads no password from the
-- environment or a ~/.pgpass: the URL carries it, so a wrong one shows.
function h.psql(url, sql)
  local code, out = h.run({ "psql", "-X", "-w", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
    "-d", url, "-c", sql }, { PGPASSWORD = false, PGPASSFILE = "/dev/null/none" })
  return code, (out:gsub("%s+$", ""))
end

-- h.psql that fails the test when the statement fails; returns the output.
function h.must_psql(url, sql)
  local code, out = h.psql(url, sql)
  assert(code == 0, ("psql failed (%d) on %s\n%s"):format(code, sql, out))
  return out
end

-- redis-cli against the harness' Redis: its trimmed output (replies and error replies alike:
-- it exits 0 on those), the password in the environment, never on the command line.
function h.redis_cli(...)
  local s = h.servers()
  assert(s.redis_port and s.redis_password, "no harness Redis (run the specs through spec/run)")
  local argv = { "redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", tostring(s.redis_port) }
  for _, a in ipairs({ ... }) do argv[#argv + 1] = tostring(a) end
  local code, out = h.run(argv, { REDISCLI_AUTH = s.redis_password })
  assert(code == 0, "redis-cli " .. table.concat(argv, " ", 7) .. " failed: " .. out)
  return (out:gsub("%s+$", ""))
end

-- Job queue specs ---------------------------------------------------------------------------

-- POSTs a JSON body; returns the response (its .json decoded).
function Server:post_json(path, body)
  return self:request({ method = "POST", path = path, body = cjson.encode(body),
    headers = { ["Content-Type"] = "application/json" } })
end

-- The records a fixture's job handlers left under a data key (GET /trace/:key, as the queue
-- fixtures answer it), oldest first; with phase, only those of that phase.
function Server:job_trace(key, phase)
  local res = self:request({ path = "/trace/" .. key })
  assert(res.status == 200, "GET /trace/" .. key .. ": " .. res.status_line .. " " .. res.body)
  local list = {}
  for _, r in ipairs(res.json.runs) do
    if phase == nil or r.phase == phase then list[#list + 1] = r end
  end
  return list
end

-- Waits until the trace under key holds at least n records of phase; returns them or raises.
function Server:wait_trace(key, phase, n, timeout_ms)
  local list
  local ok = h.eventually(function()
    list = self:job_trace(key, phase)
    return #list >= n
  end, timeout_ms or 15000, 50)
  if not ok then
    error(("trace %s: %d %s record(s) after %d ms, wanted %d; log:\n%s"):format(key, #list,
      tostring(phase), timeout_ms or 15000, n, self:log_tail()), 2)
  end
  return list
end

-- Several requests in flight at once: each on its own connection, every one sent before any
-- answer is read. Returns the responses in the order of list (nil for one that got none).
function Server:requests_at_once(list)
  local conns = {}
  for i, t in ipairs(list) do
    conns[i] = self:connect()
    assert(conns[i]:send(h.format_request(t)))
  end
  local out = {}
  for i, conn in ipairs(conns) do
    out[i] = conn:read_response({ timeout_ms = list[i].timeout_ms or 10000 })
    conn:close()
  end
  return out
end

-- queue.get(id) through GET /job/:id: the job, or nil when there is none.
function Server:job(id)
  local res = self:request({ path = "/job/" .. id })
  if res.status == 404 then return nil end
  assert(res.status == 200, "GET /job/" .. id .. ": " .. res.status_line .. " " .. res.body)
  return res.json.job
end

-- Waits until GET /job/<id> shows state (a request that fails meanwhile counts as not yet);
-- returns the job, or fails the test with the last state seen and the log's tail.
function Server:wait_job_state(id, state, timeout_ms)
  local job
  local ok = h.eventually(function()
    local answered, j = pcall(self.job, self, id)
    if answered then job = j end
    return answered and job and job.state == state
  end, timeout_ms or 15000, 20)
  if not ok then
    error(("job %s: state %s, wanted %s; log:\n%s"):format(id, job and job.state or "(none)",
      state, self:log_tail()), 2)
  end
  return job
end

-- Assertions shared by the specs ------------------------------------------------------------

-- Checks the error envelope of DESIGN.md; returns the decoded body.
function h.assert_error_envelope(res, status, code)
  local where = ("%s %s"):format(res.status_line, res.body:sub(1, 200))
  assert(res.status == status, ("expected status %d, got %s"):format(status, where))
  local j = res.json
  assert(type(j) == "table", "body is not JSON: " .. where)
  assert(j.success == false, "success ~= false: " .. where)
  assert(type(j.error) == "table", "no error object: " .. where)
  assert(type(j.error.code) == "string" and j.error.code:match("^[A-Z][A-Z0-9_]*$"),
    "error.code is not UPPER_SNAKE: " .. where)
  if code then
    assert(j.error.code == code, ("expected code %s: %s"):format(code, where))
  end
  assert(type(j.error.message) == "string" and #j.error.message > 0, "no message: " .. where)
  assert(type(j.requestId) == "string" and #j.requestId > 0, "no requestId: " .. where)
  return j
end

-- The application's own scripts/ (phone login, stores ...) ---------------------------------

-- A table's keys, sorted and joined by commas: a response's shape in one comparable string.
function h.keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return table.concat(list, ",")
end

h.APP_JWT_SECRET = "spec-jwt-secret-0123456789abcdef0123456789"
h.APP_OTP_SECRET = "spec-otp-secret-0123456789abcdef0123456789"

-- A fresh 10-digit mobile number per call: tests never share a phone's limits or account.
local phone_base, phone_seq = (os.time() % 100000) * 1000, 0
function h.phone()
  phone_seq = phone_seq + 1
  return ("9%09d"):format(phone_base + phone_seq)
end

-- A fresh client address per call, sent as X-Forwarded-For through a trusted proxy (the test
-- itself): each call's sends count against their own per-address limit.
function h.client_ip()
  phone_seq = phone_seq + 1
  local n = phone_base + phone_seq
  return ("10.%d.%d.%d"):format(math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

-- The stored form of the numbers h.phone() makes (the rule itself is spec 41's).
function h.e164(p)
  p = p:gsub("[%s%-()]", "")
  return p:sub(1, 1) == "+" and p or "+91" .. p
end

-- A copy of scripts/ with limits a test server can live with: many logins from one address,
-- one phone logging in again at once (spec 42 tests the defaults on their own).
function h.relaxed_scripts()
  local dir = h.copy_scripts("scripts")
  local config = h.read_file(dir .. "/config.lua")
  local n
  config, n = config:gsub("cooldown = 30,", "cooldown = 0,")
    :gsub("max = %d+, window", "max = 1000, window")
  assert(n == 3, "scripts/config.lua no longer has the three send limits")
  h.write_file(dir .. "/config.lua", config)
  return dir
end

-- Starts the server on the application's scripts/ (opts.scripts: another tree) with the SMS
-- outbox in a temp dir (srv.outbox_path) and the test trusted as a proxy (X-Forwarded-For).
function h.start_app(opts)
  opts = opts or {}
  local env = { JWT_SECRET = h.APP_JWT_SECRET, OTP_SECRET = h.APP_OTP_SECRET,
    SMS_PROVIDER = "outbox", SMS_OUTBOX_PATH = h.tmpdir("outbox") .. "/sms.jsonl", WORKERS = "2",
    TRUSTED_PROXIES = "127.0.0.1/32" }
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local srv = h.start{ scripts = opts.scripts or "scripts", env = env }
  srv.outbox_path = env.SMS_OUTBOX_PATH
  return srv
end

-- The outbox's messages, oldest first.
function Server:outbox()
  local lines = {}
  for line in (h.read_file(self.outbox_path) or ""):gmatch("[^\n]+") do
    lines[#lines + 1] = assert(cjson.decode(line), "outbox line is not JSON: " .. line)
  end
  return lines
end

-- The code the outbox holds for e164 after `after` lines were there, and its line.
function Server:otp_for(e164, after)
  local found = h.eventually(function()
    local lines = self:outbox()
    for i = #lines, (after or 0) + 1, -1 do
      if lines[i].to == e164 then return lines[i] end
    end
  end, 10000, 20)
  assert(found, "no outbox line for " .. e164 .. " in " .. (h.read_file(self.outbox_path) or ""))
  return found.otp, found
end

function Server:send_otp(p, ip)
  return self:request{ method = "POST", path = "/otp/send", body = cjson.encode({ phone = p }),
    headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip or h.client_ip() } }
end

-- Signs a phone in (a fresh one unless given) with role: send, read the code, verify.
-- Returns the verify answer's JSON (accessToken, refreshToken, user).
function Server:sign_in(role, p)
  p = p or h.phone()
  local before = #self:outbox()
  local res = self:send_otp(p)
  assert(res.status == 200, res.body)
  local code = self:otp_for(h.e164(p), before)
  local v = self:post_json("/otp/verify", { phone = p, otp = code, role = role })
  assert(v.status == 200, v.body)
  return v.json
end

return h
