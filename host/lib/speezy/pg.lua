-- speezy.pg — PostgreSQL for scripts: queries, transactions, parameters and types.
--
--   local rows, affected = pg.query("SELECT id, name FROM stores WHERE id = $1", id)
--   if not rows then return app.fail(affected) end      -- affected is the err table here
--   local order, err = pg.tx(function(tx)
--     local r = assert(tx:query("INSERT INTO orders (...) VALUES ($1) RETURNING id", x))
--     ...
--     return r[1]
--   end)
--
-- Failures return `nil, err`; err = {code, message, sqlstate, constraint, detail, table,
-- column} (fields the server did not send are absent). Codes: CONFLICT (unique violation
-- 23505), INVALID_REFERENCE (foreign key 23503), CONSTRAINT_VIOLATION (check, not null,
-- exclusion: the rest of class 23), INVALID_INPUT (data exceptions, class 22: bad number or
-- date text, out of range, too long), TIMEOUT (statement_timeout, 57014),
-- SERIALIZATION_FAILURE (40001, 40P01), DB_UNAVAILABLE (no connection within the pool's wait
-- bound, server down or restarting, connection lost, no DATABASE_URL), DB_ERROR (the rest).
--
-- Programming errors raise: a parameter that can't be sent, SQL text holding a NUL byte,
-- transaction control in pg.query or tx:query (BEGIN, START, COMMIT, END, ABORT, ROLLBACK
-- but for ROLLBACK TO, PREPARE TRANSACTION: a BEGIN on a pooled connection would swallow the
-- statements queued behind it, a COMMIT or ROLLBACK would end pg.tx's transaction half-way),
-- a session-wide SET (it would stay on the pooled connection: use SET LOCAL in pg.tx), and
-- any call where the request can't wait (a table.sort comparator, a gsub callback).
--
-- Parameters are `$1..$n` only, never SQL built from strings:
--   nil, pg.null -> NULL          boolean -> true/false        number -> integers without
--   exponent, others in the fewest digits that read back exactly    string -> text (a string
--   holding a NUL byte is sent raw, for bytea)    pg.bytea(s) -> raw bytes for bytea
--   pg.array{...} -> array literal (nested tables are sub-arrays; pg.null elements are NULL)
--   any other table -> JSON text (json/jsonb parameters)
--
-- Result values by column type:
--   int2, int4, oid -> number      int8 -> number, or a string beyond ±2^53
--   float4, float8 -> number; NaN, Infinity, -Infinity as those strings (JSON has no such
--   numbers)      numeric -> string (exact)      bool -> boolean      text, varchar, char,
--   name -> string      json, jsonb -> decoded Lua value (JSON null -> pg.null; numbers are
--   doubles, so integers beyond ±2^53 in a document lose digits, as in JavaScript; a number
--   beyond a double's range fails the query: DB_ERROR)      uuid -> string
--   timestamptz, timestamp -> "2026-11-25T09:51:41.123456Z" (UTC, PostgreSQL's fraction)
--   date -> "YYYY-MM-DD"      bytea -> raw bytes string      arrays of these (any number of
--   dimensions) -> Lua arrays      other types -> PostgreSQL's text, arrays of them too
--   (an enum[] such as array_agg(status) comes back "{PLACED,DELIVERED}": select it as
--   ::text[] for a Lua array)      SQL NULL -> pg.null
-- pg.null is cjson.null, so it encodes as JSON null. A row is keyed by column name (the last
-- of two equal names wins); affected is the command's row count (0 when it has none).
--
-- pg.tx(fn) pins one connection to the request, runs BEGIN, calls fn(tx) and:
--   * fn returns normally      -> COMMIT; pg.tx returns fn's results (true if it returned none)
--   * fn returns nil, err      -> ROLLBACK; pg.tx returns nil, err
--   * a statement failed inside (the transaction is aborted), even if fn went on
--                              -> ROLLBACK; pg.tx returns nil, that statement's err
--   * fn raises                -> ROLLBACK, then the error is raised again
--   * the request is cancelled (client gone, deadline) -> the host rolls back and returns the
--     connection to the pool; nothing is committed, unless the COMMIT was already sent: then
--     the outcome is unknown to the client (a warning in the log says so)
-- tx:after_commit(fn) runs fn (in the same coroutine) once the whole transaction committed;
-- never when it rolled back, nor when the savepoint it was registered in rolled back.
-- tx:query(sql, ...) has pg.query's contract. Inside fn, pg.query and pg.tx join the
-- transaction: pg.tx or tx:tx(fn) nested there runs in a SAVEPOINT with the same rules,
-- rolling back to it without ending the outer transaction.
local json = require "speezy.json"
local core = require "speezy.pg.core"

-- speezy.json keeps [] an array both ways (cjson would turn an empty array into {}).
core.configure(json.decode, json.encode)

local pg = {}

pg.null = core.null

-- conn userdata -> { conn, depth, err }: the transaction state of a pinned connection.
local states = setmetatable({}, { __mode = "k" })

local function pack(...)
  return { n = select("#", ...), ... }
end

local function run_on(state, sql, ...)
  local rows, affected = core.conn_query(state.conn, sql, ...)
  if rows == nil and state.err == nil then state.err = affected end
  return rows, affected
end

local Tx = {}
Tx.__index = Tx

local function check_open(tx)
  if tx.done then error("pg: transaction used after it ended", 3) end
end

function Tx:query(sql, ...)
  check_open(self)
  return run_on(self.state, sql, ...)
end

local run

local function finish(r)
  if r.raise then error(r.err, 0) end
  return unpack(r, 1, r.n)
end

function Tx:after_commit(fn)
  check_open(self)
  if type(fn) ~= "function" then error("tx:after_commit: expects a function", 2) end
  local hooks = self.state.hooks
  hooks[#hooks + 1] = fn
end

function Tx:tx(fn)
  check_open(self)
  if type(fn) ~= "function" then error("tx:tx: expects a function", 2) end
  return finish(run(self.state, fn))
end

-- What fn's outcome means: "raise", "rollback" or "commit", then the values to hand back.
local function verdict(state, tx, ok, ...)
  tx.done = true
  if not ok then return "raise", (...) end
  if select("#", ...) >= 2 and (...) == nil and select(2, ...) ~= nil then
    return "rollback", select(2, ...)
  end
  if state.err ~= nil then return "rollback", state.err end
  if select("#", ...) == 0 then return "commit", true end
  return "commit", ...
end

-- One level: the transaction itself (depth 0) or a savepoint inside it. Returns a packed
-- outcome; with `raise` set, `err` is an error to raise once the connection is safe.
run = function(state, fn)
  local name = "speezy_sp" .. state.depth
  local open, rollback = "BEGIN", "ROLLBACK"
  local commit = core.commit -- the host knows a cancelled COMMIT's outcome is unknown
  if state.depth > 0 then
    open, rollback = "SAVEPOINT " .. name, "ROLLBACK TO SAVEPOINT " .. name
    local release = "RELEASE SAVEPOINT " .. name
    commit = function(conn) return core.conn_control(conn, release) end
  end
  local ok, err = core.conn_control(state.conn, open)
  if not ok then return pack(nil, err) end
  local outer_err = state.err
  local nhooks = #state.hooks -- hooks of a level that rolls back are dropped with it
  state.err = nil
  state.depth = state.depth + 1
  local tx = setmetatable({ state = state }, Tx)
  local r = pack(verdict(state, tx, pcall(fn, tx)))
  state.depth = state.depth - 1
  if r[1] == "commit" then
    ok, err = commit(state.conn)
    if ok then
      state.err = outer_err
      return pack(unpack(r, 2, r.n))
    end
    r = { "rollback", err }
  end
  -- A failed COMMIT has already ended the transaction; this ROLLBACK is then a no-op.
  core.conn_control(state.conn, rollback)
  for i = #state.hooks, nhooks + 1, -1 do state.hooks[i] = nil end
  state.err = outer_err
  if r[1] == "raise" then return { raise = true, err = r[2] } end
  return pack(nil, r[2])
end

function pg.query(sql, ...)
  local rows, affected = core.query(sql, ...)
  if rows == false then return run_on(states[core.pinned()], sql, ...) end -- inside pg.tx
  return rows, affected
end

function pg.tx(fn)
  if type(fn) ~= "function" then error("pg.tx: expects a function", 2) end
  local pinned = core.pinned()
  if pinned then return finish(run(states[pinned], fn)) end
  local conn, err = core.acquire()
  if not conn then return nil, err end
  local state = { conn = conn, depth = 0, hooks = {} }
  states[conn] = state
  local r = run(state, fn)
  states[conn] = nil
  core.release(conn)
  for _, hook in ipairs(state.hooks) do hook() end -- empty unless it committed
  return finish(r)
end

local array_literal

local function array_element(v)
  local t = type(v)
  if v == nil or v == pg.null then return "NULL" end
  if t == "table" then return array_literal(v) end
  if t == "boolean" then return v and "t" or "f" end
  if t == "number" then return core.number_text(v) end -- as a number parameter is sent
  if t == "string" then return '"' .. v:gsub('[\\"]', "\\%0") .. '"' end
  error("pg.array: cannot hold a " .. t, 4)
end

array_literal = function(list)
  local parts = {}
  for i = 1, list.n or #list do parts[i] = array_element(list[i]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- pg.array{1, 2, 3} / pg.array{{1, 2}, {3, 4}} / pg.array{"a", pg.null}: an array parameter.
function pg.array(list)
  if type(list) ~= "table" then error("pg.array: expects a table", 2) end
  return core.param(array_literal(list), false)
end

-- pg.bytea(s): s sent as raw bytes (binary format) for a bytea parameter.
function pg.bytea(s)
  if type(s) ~= "string" then error("pg.bytea: expects a string", 2) end
  return core.param(s, true)
end

-- Pool counters for metrics: size, idle, busy, waiting, connected, and batches / batched
-- (how many writes sent pg.query statements, and how many statements they held); nil
-- without a database.
pg.stats = core.stats

return pg
