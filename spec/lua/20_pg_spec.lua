-- speezy.pg inside the host (`speezy test`), against the harness' PostgreSQL (DATABASE_URL):
-- the type mapping both ways, NULL, arrays, hostile strings, affected counts and error codes.
local json = require "speezy.json"
local pg = require "speezy.pg"

local function one(sql, ...)
  local rows, err = pg.query(sql, ...)
  assert(rows, err and tostring(err))
  return rows[1]
end

local function setup_tables()
  assert(pg.query([[CREATE TABLE IF NOT EXISTS spec_pg_parent (
    id int PRIMARY KEY, name text NOT NULL, n int CHECK (n >= 0))]]))
  assert(pg.query([[CREATE TABLE IF NOT EXISTS spec_pg_child (
    id serial PRIMARY KEY, parent_id int REFERENCES spec_pg_parent (id))]]))
  assert(pg.query("CREATE TABLE IF NOT EXISTS spec_pg_items (id serial PRIMARY KEY, v text)"))
  assert(pg.query("TRUNCATE spec_pg_child, spec_pg_parent, spec_pg_items"))
end

describe("speezy.pg", function()
  before_each(setup_tables)

  describe("result types", function()
    it("gives lists that stay JSON arrays when empty: rows and array columns", function()
      local rows = assert(pg.query("SELECT 1 AS n WHERE false"))
      assert.equal("[]", json.encode(rows))
      local r = one("SELECT '{}'::text[] AS e, '{{1},{2}}'::int[] AS m")
      assert.equal("[]", json.encode(r.e))
      assert.equal("[[1],[2]]", json.encode(r.m))
    end)

    it("maps integers to numbers, int8 beyond 2^53 to strings", function()
      local r = one([[SELECT 32767::int2 AS a, (-2147483648)::int4 AS b,
        9007199254740992::int8 AS c, 9223372036854775807::int8 AS d,
        (-9007199254740993)::int8 AS e, 42::oid AS f]])
      assert.equal(32767, r.a)
      assert.equal(-2147483648, r.b)
      assert.equal(9007199254740992, r.c)
      assert.equal("9223372036854775807", r.d)
      assert.equal("-9007199254740993", r.e)
      assert.equal(42, r.f)
    end)

    it("maps floats to numbers (NaN, ±Infinity as text), numeric to exact strings", function()
      local r = one([[SELECT 1.5::float4 AS a, 0.1::float8 AS b, 'NaN'::float8 AS c,
        '-Infinity'::float8 AS d, 12345678901234567890.123456789::numeric AS e,
        0.10::numeric(5, 2) AS f, 'Infinity'::float4 AS g]])
      assert.equal(1.5, r.a)
      assert.equal(0.1, r.b)
      assert.equal("NaN", r.c)
      assert.equal("-Infinity", r.d)
      assert.equal("Infinity", r.g)
      assert.equal('["NaN","-Infinity"]', json.encode(json.array{ r.c, r.d }))
      assert.equal("12345678901234567890.123456789", r.e)
      assert.equal("0.10", r.f)
    end)

    it("maps booleans, text types, uuid and date", function()
      local r = one([[SELECT true AS t, false AS f, 'héllo'::text AS s, 'ab'::varchar(5) AS v,
        'ab'::char(4) AS c, 'pg_class'::name AS n,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '2026-11-25'::date AS d]])
      assert.is_true(r.t)
      assert.is_false(r.f)
      assert.equal("héllo", r.s)
      assert.equal("ab", r.v)
      assert.equal("ab  ", r.c)
      assert.equal("pg_class", r.n)
      assert.equal("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", r.u)
      assert.equal("2026-11-25", r.d)
    end)

    it("writes timestamps as ISO-8601 UTC with PostgreSQL's fraction", function()
      local r = one([[SELECT '2026-11-25 09:51:41.123456+00'::timestamptz AS a,
        '2026-11-25 11:51:41+02'::timestamptz AS b, '2026-11-25 09:51:41.5'::timestamp AS c,
        'infinity'::timestamptz AS d]])
      assert.equal("2026-11-25T09:51:41.123456Z", r.a)
      assert.equal("2026-11-25T09:51:41Z", r.b)
      assert.equal("2026-11-25T09:51:41.5Z", r.c)
      assert.equal("infinity", r.d)
      assert.equal("2026-11-25T09:51:41.25Z",
        one("SELECT $1::timestamptz AS t", "2026-11-25T09:51:41.25Z").t)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z$", one("SELECT now() AS t").t)
    end)

    it("decodes json and jsonb, JSON null as pg.null", function()
      local r = one([[SELECT '{"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}}'::jsonb AS j,
        '[1, 2]'::json AS k, 'null'::jsonb AS n]])
      assert.same({ a = 1, b = { true, pg.null, "x" }, c = { d = 2.5 } }, r.j)
      assert.same({ 1, 2 }, r.k)
      assert.equal(pg.null, r.n)
    end)

    it("fails the query, never drops the column, when a json number is beyond a double", function()
      local rows, err = pg.query([[SELECT 1 AS id, '{"big": 1e400}'::jsonb AS j]])
      assert.is_nil(rows)
      assert.equal("DB_ERROR", err.code)
      assert.matches("json value can't be decoded", err.message)
      assert.equal(1, one([[SELECT 1 AS id, '{"big": 1e400}'::jsonb::text AS j]]).id)
    end)

    it("returns bytea as raw bytes", function()
      local r = one([[SELECT '\x00ff41'::bytea AS b, ''::bytea AS e]])
      assert.equal("\0\255A", r.b)
      assert.equal("", r.e)
    end)

    it("maps SQL NULL of every type to pg.null", function()
      local r = one([[SELECT NULL::int AS a, NULL::text AS b, NULL::jsonb AS c,
        NULL::timestamptz AS d, NULL::int[] AS e, NULL::bool AS f]])
      for _, k in ipairs { "a", "b", "c", "d", "e", "f" } do
        assert.equal(pg.null, r[k], k)
      end
    end)

    it("maps arrays of every type, with NULL elements and several dimensions", function()
      local r = one([[SELECT '{1,2,NULL}'::int[] AS i, '{{1,2},{3,4}}'::int8[] AS m,
        '{}'::text[] AS e, ARRAY['a,b', 'q"uote', 'back\slash', NULL, 'NULL', ''] AS t,
        '{t,f}'::bool[] AS b, '{1.5,NaN}'::float8[] AS f, '{1.10,2}'::numeric[] AS n,
        ARRAY['2026-11-25 09:51:41.5+00'::timestamptz] AS ts,
        ARRAY['{"a":1}'::jsonb, 'null'::jsonb] AS j, '[0:1]={7,8}'::int[] AS z,
        ARRAY['\x0001'::bytea] AS y, ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid] AS u]])
      assert.same({ 1, 2, pg.null }, r.i)
      assert.same({ { 1, 2 }, { 3, 4 } }, r.m)
      assert.same({}, r.e)
      assert.same({ "a,b", 'q"uote', "back\\slash", pg.null, "NULL", "" }, r.t)
      assert.same({ true, false }, r.b)
      assert.same({ 1.5, "NaN" }, r.f)
      assert.same({ "1.10", "2" }, r.n)
      local e = one([[SELECT ARRAY['PLACED', 'DELIVERED']::order_status[] AS raw,
        ARRAY['PLACED', 'DELIVERED']::order_status[]::text[] AS cast]])
      assert.equal("{PLACED,DELIVERED}", e.raw) -- as documented: no mapping for enum arrays
      assert.same({ "PLACED", "DELIVERED" }, e.cast)
      assert.same({ "2026-11-25T09:51:41.5Z" }, r.ts)
      assert.same({ { a = 1 }, pg.null }, r.j)
      assert.same({ 7, 8 }, r.z)
      assert.same({ "\0\1" }, r.y)
      assert.same({ "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" }, r.u)
    end)

    it("keys rows by column name and counts affected rows", function()
      local rows, n = pg.query("INSERT INTO spec_pg_items (v) VALUES ('a'), ('b'), ('c')")
      assert.same({}, rows)
      assert.equal(3, n)
      rows, n = pg.query("SELECT v FROM spec_pg_items ORDER BY v")
      assert.same({ { v = "a" }, { v = "b" }, { v = "c" } }, rows)
      assert.equal(3, n)
      rows, n = pg.query("UPDATE spec_pg_items SET v = 'z' WHERE v = 'nope'")
      assert.same({}, rows)
      assert.equal(0, n)
      local _, none = pg.query("CREATE TABLE IF NOT EXISTS spec_pg_items (id int)")
      assert.equal(0, none)
      rows = assert(pg.query("DELETE FROM spec_pg_items WHERE v = $1 RETURNING v", "b"))
      assert.same({ { v = "b" } }, rows)
    end)
  end)

  describe("parameters", function()
    it("sends nil and pg.null as NULL", function()
      local r = one("SELECT $1::int IS NULL AS a, $2::text IS NULL AS b, $3::text AS c",
        nil, pg.null, "x")
      assert.is_true(r.a)
      assert.is_true(r.b)
      assert.equal("x", r.c)
    end)

    it("sends booleans and numbers (integers without exponent)", function()
      local r = one([[SELECT $1::bool AS t, $2::bool AS f, $3::int8 AS big, $4::float8 AS x,
        $5::numeric AS d, $6::int AS neg, $7::float8 AS inf]],
        true, false, 1e15, 0.1, 0.1, -7, math.huge)
      assert.is_true(r.t)
      assert.is_false(r.f)
      assert.equal(1e15, r.big)
      assert.equal(0.1, r.x)
      assert.equal("0.1", r.d)
      assert.equal(-7, r.neg)
      assert.equal("Infinity", r.inf)
      assert.equal(2 ^ 53, one("SELECT $1::int8 AS v", 2 ^ 53).v)
      -- the fewest digits that read back exactly: 15, 16 or 17
      local d = one("SELECT $1::numeric AS a, $2::numeric AS b, $3::numeric AS c, "
        .. "($4::numeric[])[1] AS e", 1 / 3, 0.1 + 0.2, 2.5, pg.array{ 1 / 3 })
      assert.same({ "0.3333333333333333", "0.30000000000000004", "2.5", "0.3333333333333333" },
        { d.a, d.b, d.c, d.e })
    end)

    it("sends tables as JSON for json/jsonb", function()
      local doc = { name = "shop", tags = { "a", "b" }, open = true, rating = 4.5 }
      assert.same(doc, one("SELECT $1::jsonb AS j", doc).j)
      assert.same({ 1, 2, 3 }, one("SELECT $1::json AS j", { 1, 2, 3 }).j)
      assert.same({ a = 1 }, one("SELECT $1::jsonb AS j", '{"a": 1}').j)
      assert.equal("shop", one("SELECT $1::jsonb ->> 'name' AS n", doc).n)
    end)

    it("sends pg.array as an array literal", function()
      assert.same({ 1, 2, 3 }, one("SELECT $1::int[] AS a", pg.array { 1, 2, 3 }).a)
      local strs = { "a,b", 'q"uote', "back\\slash", "NULL", "", "{x}" }
      assert.same(strs, one("SELECT $1::text[] AS a", pg.array(strs)).a)
      assert.same({ "x", pg.null }, one("SELECT $1::text[] AS a", pg.array { "x", pg.null }).a)
      assert.same({ { 1, 2 }, { 3, 4 } },
        one("SELECT $1::int[] AS a", pg.array { { 1, 2 }, { 3, 4 } }).a)
      assert.same({}, one("SELECT $1::int[] AS a", pg.array {}).a)
      assert.same({ true, false }, one("SELECT $1::bool[] AS a", pg.array { true, false }).a)
      assert.equal(2, one("SELECT cardinality($1::int[]) AS n", pg.array { 5, 6 }).n)
      assert(pg.query("INSERT INTO spec_pg_items (v) VALUES ('a'), ('b'), ('c')"))
      local rows = assert(pg.query("SELECT v FROM spec_pg_items WHERE v = ANY($1) ORDER BY v",
        pg.array { "a", "c", "zz" }))
      assert.same({ { v = "a" }, { v = "c" } }, rows)
    end)

    it("sends bytes: pg.bytea and strings holding NUL", function()
      local bytes = "\0\1\2\255abc\\x"
      assert.equal(bytes, one("SELECT $1::bytea AS b", pg.bytea(bytes)).b)
      assert.equal(bytes, one("SELECT $1::bytea AS b", bytes).b)
      local high = "\200\201\255"
      assert.equal(high, one("SELECT $1::bytea AS b", pg.bytea(high)).b)
      assert.equal(3, one("SELECT length($1::bytea) AS n", pg.bytea(high)).n)
    end)

    it("keeps hostile strings as data", function()
      local hostile = {
        "'; DROP TABLE spec_pg_items; --",
        "Robert'); DROP TABLE spec_pg_parent;--",
        "$1",
        "\\",
        "' OR '1'='1",
        "1; SELECT pg_sleep(10)",
        "ünïcødé ✓ 🙂",
        string.rep("x", 100000),
      }
      for _, s in ipairs(hostile) do
        local rows, n = pg.query("INSERT INTO spec_pg_items (v) VALUES ($1) RETURNING v", s)
        assert.truthy(rows, n and tostring(n))
        assert.equal(s, rows[1].v)
        assert.equal(1, one("SELECT count(*)::int AS n FROM spec_pg_items WHERE v = $1", s).n)
      end
      assert.equal(#hostile, one("SELECT count(*)::int AS n FROM spec_pg_items").n)
      assert.equal(0, one("SELECT count(*)::int AS n FROM spec_pg_parent").n)
    end)

    it("raises on SQL text holding a NUL byte instead of running a truncated statement", function()
      assert.has_error(function() pg.query("SELECT 1 AS a\0 WHERE false") end, "NUL")
      assert.has_error(function()
        pg.tx(function(tx) return tx:query("SELECT 1\0; SELECT 2") end)
      end, "NUL")
    end)

    it("raises on transaction control outside pg.tx: a block would outlive it", function()
      assert.has_error(function() pg.query("BEGIN") end,
        "pg.query: transaction control (BEGIN, COMMIT, ROLLBACK, ...) belongs to pg.tx")
      assert.has_error(function() pg.query(" -- why\n start transaction") end)
      -- a session-wide SET would reach the next request on the connection
      assert.has_error(function() pg.query("SET TimeZone = 'Asia/Kolkata'") end,
        "use SET LOCAL (or set_config(name, value, true)) inside pg.tx")
      assert.has_error(function()
        pg.tx(function(tx) tx:query("set statement_timeout = 0") end)
      end, "session-wide SET")
      assert.equal("50ms", pg.tx(function(tx)
        assert(tx:query("SET LOCAL statement_timeout = 50"))
        return assert(tx:query("SHOW statement_timeout"))[1].statement_timeout
      end))
      -- a misuse names the script's line, not the library's wrapper
      local _, where = pcall(function() pg.query("COMMIT") end)
      assert.matches("^spec/lua/20_pg_spec%.lua:%d+: pg%.query: transaction control", where)
      _, where = pcall(function() pg.query("SELECT $1", function() end) end)
      assert.matches("^spec/lua/20_pg_spec%.lua:%d+: pg: %$1 is a function, not a query", where)
      assert.has_error(function() pg.query("COMMIT") end)
      assert.has_error(function() pg.query("rollback") end)
      assert.equal(1, one("SELECT 1 AS begin").begin)
      assert.truthy(pg.tx(function(tx) return tx:query("SELECT 1 AS a") end))
    end)

    it("raises on a value that can't be a parameter", function()
      assert.has_error(function() pg.query("SELECT $1", function() end) end)
      assert.has_error(function() pg.query("SELECT $1", pg.query) end)
      assert.has_error(function() pg.query(nil) end)
    end)
  end)

  describe("errors", function()
    it("maps unique, foreign key, check and not-null violations", function()
      assert(pg.query("INSERT INTO spec_pg_parent (id, name, n) VALUES (1, 'a', 1)"))

      local rows, err = pg.query("INSERT INTO spec_pg_parent (id, name, n) VALUES (1, 'b', 1)")
      assert.is_nil(rows)
      local _
      assert.equal("CONFLICT", err.code)
      assert.equal("23505", err.sqlstate)
      assert.equal("spec_pg_parent_pkey", err.constraint)
      assert.equal("spec_pg_parent", err.table)
      assert.matches("already exists", err.detail)
      assert.is_string(err.message)
      assert.matches("^CONFLICT: ", tostring(err))

      _, err = pg.query("INSERT INTO spec_pg_child (parent_id) VALUES (42)")
      assert.equal("INVALID_REFERENCE", err.code)
      assert.equal("spec_pg_child_parent_id_fkey", err.constraint)

      _, err = pg.query("INSERT INTO spec_pg_parent (id, name, n) VALUES (2, 'c', -1)")
      assert.equal("CONSTRAINT_VIOLATION", err.code)
      assert.equal("23514", err.sqlstate)
      assert.equal("spec_pg_parent_n_check", err.constraint)

      _, err = pg.query("INSERT INTO spec_pg_parent (id, name, n) VALUES (3, NULL, 1)")
      assert.equal("CONSTRAINT_VIOLATION", err.code)
      assert.equal("23502", err.sqlstate)
      assert.equal("name", err.column)
      assert.equal(1, one("SELECT count(*)::int AS n FROM spec_pg_parent").n)
    end)

    it("maps bad input, timeouts and the rest", function()
      local _, err = pg.query("SELECT $1::int", "abc")
      assert.equal("INVALID_INPUT", err.code)
      assert.equal("22P02", err.sqlstate)
      _, err = pg.query("SELECT $1::int2", 100000)
      assert.equal("INVALID_INPUT", err.code)
      _, err = pg.tx(function(tx)
        assert(tx:query("SET LOCAL statement_timeout = 50"))
        return tx:query("SELECT pg_sleep(2)")
      end)
      assert.equal("TIMEOUT", err.code)
      assert.equal("57014", err.sqlstate)
      _, err = pg.query("SELEC 1")
      assert.equal("DB_ERROR", err.code)
      assert.equal("42601", err.sqlstate)
      _, err = pg.query("SELECT * FROM spec_pg_no_such_table")
      assert.equal("DB_ERROR", err.code)
      _, err = pg.query("SELECT 1; SELECT 2")
      assert.equal("DB_ERROR", err.code)
      -- too many or too few parameters is a script bug (08P01), not an unavailable database
      _, err = pg.query("SELECT $1::text", "x", "extra")
      assert.equal("DB_ERROR", err.code)
      assert.equal("08P01", err.sqlstate)
      _, err = pg.query("SELECT $1::text, $2::text", "x")
      assert.equal("DB_ERROR", err.code)
      assert.equal(1, one("SELECT 1 AS ok").ok) -- the connection is still good
    end)
  end)

  describe("where the coroutine cannot wait", function()
    -- A C function (sort comparator, gsub callback) between the handler and the binding makes
    -- lua_yield raise: nothing may be left in flight to resume this coroutine later.
    local function stray(fn)
      local ok, err = pcall(table.sort, { 3, 1, 2 }, function(a, b)
        fn()
        return a < b
      end)
      assert.is_false(ok)
      assert.matches("cannot wait", tostring(err))
    end

    it("refuses pg.query, pg.tx and tx:query before sending anything", function()
      stray(function() pg.query("SELECT 'stray' AS v") end)
      stray(function() pg.tx(function() end) end)
      local ok, err = pcall(string.gsub, "x", "x", function() return pg.query("SELECT 1") end)
      assert.is_false(ok)
      assert.matches("cannot wait", tostring(err))
      assert.is_nil(pg.tx(function(tx)
        stray(function() tx:query("SELECT 'stray' AS v") end)
        return nil, "rolled back"
      end))
      -- the next wait gets its own answer, and nothing is held
      local rows = assert(pg.query("SELECT pg_sleep(0.2)::text AS s, 'mine' AS v"))
      assert.equal("mine", rows[1].v)
      assert.equal(0, pg.stats().busy)
      assert.is_nil(pg.query("SAVEPOINT outside"), "a transaction was left open")
    end)
  end)

  it("reports pool counters", function()
    local s = pg.stats()
    assert.is_table(s)
    assert.truthy(s.size >= 1)
    assert.equal(0, s.busy)
    assert.equal(0, s.waiting)
    assert.truthy(s.connected >= 1)
    assert.truthy(s.batched >= s.batches)
  end)
end)
