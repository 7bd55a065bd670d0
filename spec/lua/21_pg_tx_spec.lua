-- pg.tx inside the host (`speezy test`): commit, rollback, savepoints, errors inside a
-- transaction, and that no path leaves a partial write or a connection behind.
-- (A request cancelled mid-transaction is covered in spec/unit/test_pg.c with co_cancel.)
local pg = require "speezy.pg"

local function count(where, ...)
  local sql = "SELECT count(*)::int AS n FROM spec_tx_items " .. (where or "")
  local rows = assert(pg.query(sql, ...))
  return rows[1].n
end

local function values()
  local rows = assert(pg.query("SELECT v FROM spec_tx_items ORDER BY id"))
  local out = {}
  for i, r in ipairs(rows) do out[i] = r.v end
  return out
end

local function insert(q, v)
  return q("INSERT INTO spec_tx_items (v) VALUES ($1) RETURNING id", v)
end

describe("pg.tx", function()
  before_each(function()
    assert(pg.query([[CREATE TABLE IF NOT EXISTS spec_tx_items (
      id serial PRIMARY KEY, v text UNIQUE, n int NOT NULL DEFAULT 0 CHECK (n >= 0))]]))
    assert(pg.query([[CREATE TABLE IF NOT EXISTS spec_tx_deferred (
      id int PRIMARY KEY, ref int REFERENCES spec_tx_items (id) DEFERRABLE INITIALLY DEFERRED)]]))
    assert(pg.query("TRUNCATE spec_tx_deferred, spec_tx_items"))
  end)

  after_each(function()
    local s = pg.stats()
    assert.equal(0, s.busy, "a connection was left busy")
    assert.is_nil(pg.query("SAVEPOINT outside"), "a transaction was left open")
  end)

  it("commits when fn returns and hands back its results", function()
    local a, b, c = pg.tx(function(tx)
      local r1 = assert(insert(function(...) return tx:query(...) end, "a"))
      local r2 = assert(insert(function(...) return tx:query(...) end, "b"))
      return r1[1].id, r2[1].id, "third"
    end)
    assert.is_number(a)
    assert.equal(a + 1, b)
    assert.equal("third", c)
    assert.same({ "a", "b" }, values())
  end)

  it("returns true when fn returns nothing", function()
    assert.is_true(pg.tx(function(tx) assert(tx:query("SELECT 1")) end))
  end)

  it("rolls back when fn returns nil, err", function()
    local ok, err = pg.tx(function(tx)
      assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('gone')"))
      return nil, { code = "OUT_OF_STOCK" }
    end)
    assert.is_nil(ok)
    assert.same({ code = "OUT_OF_STOCK" }, err)
    assert.equal(0, count())
  end)

  it("rolls back and raises again when fn raises", function()
    assert.has_error(function()
      pg.tx(function(tx)
        assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('gone')"))
        error("boom in the middle")
      end)
    end, "boom in the middle")
    local ok, e = pcall(pg.tx, function() error({ code = "X" }) end)
    assert.is_false(ok)
    assert.same({ code = "X" }, e)
    assert.equal(0, count())
  end)

  it("rolls back when a statement failed, even if fn went on", function()
    local ok, err = pg.tx(function(tx)
      assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('first')"))
      tx:query("INSERT INTO spec_tx_items (v) VALUES ('first')") -- unique violation, ignored
      return "done anyway"
    end)
    assert.is_nil(ok)
    assert.equal("CONFLICT", err.code)
    assert.equal(0, count())
  end)

  it("leaves no partial write on a constraint error midway", function()
    local ok, err = pg.tx(function(tx)
      for i, n in ipairs { 5, 3, -1, 7 } do
        local rows, qerr = tx:query("INSERT INTO spec_tx_items (v, n) VALUES ($1, $2)", "i" .. i, n)
        if not rows then return nil, qerr end
      end
    end)
    assert.is_nil(ok)
    assert.equal("CONSTRAINT_VIOLATION", err.code)
    assert.equal(0, count())
  end)

  it("reports a failed COMMIT (deferred constraint) and keeps nothing", function()
    local ok, err = pg.tx(function(tx)
      assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('kept?')"))
      assert(tx:query("INSERT INTO spec_tx_deferred (id, ref) VALUES (1, 424242)"))
      return "fn was happy"
    end)
    assert.is_nil(ok)
    assert.equal("INVALID_REFERENCE", err.code)
    assert.equal(0, count())
  end)

  describe("nested", function()
    it("tx:tx rolls back to its savepoint without ending the outer transaction", function()
      local ok = pg.tx(function(tx)
        assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('outer')"))
        local r, err = tx:tx(function(inner)
          assert(inner:query("INSERT INTO spec_tx_items (v) VALUES ('inner')"))
          return nil, "changed my mind"
        end)
        assert.is_nil(r)
        assert.equal("changed my mind", err)
        assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('after')"))
        return "ok"
      end)
      assert.equal("ok", ok)
      assert.same({ "outer", "after" }, values())
    end)

    it("a failed statement inside a savepoint spares the outer transaction", function()
      local ok = pg.tx(function(tx)
        assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('dup')"))
        local r, err = tx:tx(function(inner)
          assert(inner:query("INSERT INTO spec_tx_items (v) VALUES ('inner')"))
          inner:query("INSERT INTO spec_tx_items (v) VALUES ('dup')")
          return "ignored the error"
        end)
        assert.is_nil(r)
        assert.equal("CONFLICT", err.code)
        assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('after')"))
        return "ok"
      end)
      assert.equal("ok", ok)
      assert.same({ "dup", "after" }, values())
    end)

    it("pg.tx inside pg.tx is a savepoint; raising inside it rolls back only it", function()
      local ok = pg.tx(function()
        assert(pg.query("INSERT INTO spec_tx_items (v) VALUES ('outer')"))
        local inner_ok = pcall(pg.tx, function()
          assert(pg.query("INSERT INTO spec_tx_items (v) VALUES ('inner')"))
          error("inner fails")
        end)
        assert.is_false(inner_ok)
        local a, b = pg.tx(function(tx)
          assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('inner2')"))
          return 1, 2
        end)
        assert.equal(1, a)
        assert.equal(2, b)
        return true
      end)
      assert.is_true(ok)
      assert.same({ "outer", "inner2" }, values())
    end)

    it("three levels commit together", function()
      assert.is_true(pg.tx(function(t1)
        assert(t1:query("INSERT INTO spec_tx_items (v) VALUES ('1')"))
        return t1:tx(function(t2)
          assert(t2:query("INSERT INTO spec_tx_items (v) VALUES ('2')"))
          return t2:tx(function(t3)
            assert(t3:query("INSERT INTO spec_tx_items (v) VALUES ('3')"))
            return true
          end)
        end)
      end))
      assert.same({ "1", "2", "3" }, values())
    end)
  end)

  it("pg.query inside pg.tx joins the transaction", function()
    assert.has_error(function()
      pg.tx(function()
        assert(pg.query("INSERT INTO spec_tx_items (v) VALUES ('joined')"))
        assert.equal(1, count()) -- sees its own uncommitted row
        error("undo")
      end)
    end, "undo")
    assert.equal(0, count())
  end)

  it("refuses COMMIT, ROLLBACK and END inside fn: they would end it half-way", function()
    for _, sql in ipairs { "COMMIT", "ROLLBACK", "END", "abort", "/* c */ commit work" } do
      for _, via in ipairs { "tx", "pg" } do
        local ok, err = pcall(pg.tx, function(tx)
          assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('early')"))
          if via == "tx" then tx:query(sql) else pg.query(sql) end
          assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('late')"))
        end)
        assert.is_false(ok, sql)
        assert.matches("transaction control", tostring(err))
        assert.equal(0, count(), sql .. " via " .. via .. " committed part of the transaction")
      end
    end
    assert.same({ "kept" }, { pg.tx(function(tx)
      assert(tx:query("SAVEPOINT mine"))
      assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('undone')"))
      assert(tx:query("ROLLBACK TO SAVEPOINT mine"))
      assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ('kept')"))
      return "kept"
    end) })
    assert.same({ "kept" }, values())
  end)

  it("refuses a transaction object used after it ended", function()
    local saved
    assert.is_true(pg.tx(function(tx) saved = tx end))
    assert.has_error(function() saved:query("SELECT 1") end, "after it ended")
    assert.has_error(function() pg.tx("not a function") end, "expects a function")
  end)

  it("keeps hostile strings as data inside a transaction", function()
    local s = "x'); COMMIT; DROP TABLE spec_tx_items; --"
    assert.has_error(function()
      pg.tx(function(tx)
        assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ($1)", s))
        error("roll it back")
      end)
    end)
    assert.equal(0, count())
    assert.is_true(pg.tx(function(tx)
      assert(tx:query("INSERT INTO spec_tx_items (v) VALUES ($1)", s))
    end))
    assert.equal(1, count("WHERE v = $1", s))
  end)
end)
