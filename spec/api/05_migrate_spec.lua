-- 05_migrate_spec.lua — `speezy migrate` and `speezy migrate status` (issue #3 item 4) against
-- the PostgreSQL spec/run started, each test on a database of its own; then the invariants
-- the schema of migrations/ enforces (DOMAIN.md), each tried with a row that breaks it.
local h = require "spec.helpers"
local wait = require "posix.sys.wait"
local psignal = require "posix.signal"

local SERVER_URL = os.getenv("SPEEZY_TEST_DATABASE_URL")
local MIGRATIONS = h.root .. "/migrations"
local FIXTURES = h.root .. "/spec/fixtures"

-- The same server and credentials, another database.
local function url_for(db)
  local authority, query = SERVER_URL:match("^(%a[%w+.-]*://[^/?]*)/?[^?]*(.*)$")
  return authority .. "/" .. db .. query
end

local psql, must = h.psql, h.must_psql

local created = {}

local function fresh_db()
  local name = ("speezy_migrate_%d_%d"):format(os.time(), #created + 1)
  must(url_for("postgres"), "CREATE DATABASE " .. name)
  created[#created + 1] = name
  return url_for(name)
end

local function drop_dbs()
  for _, name in ipairs(created) do
    psql(url_for("postgres"), "DROP DATABASE IF EXISTS " .. name .. " WITH (FORCE)")
  end
  created = {}
end

local function list_sql(dir)
  local names = {}
  local p = io.popen("ls " .. h.shell_quote(dir))
  for name in p:lines() do
    if name:match("^%d+_.+%.sql$") then names[#names + 1] = name end
  end
  p:close()
  table.sort(names)
  return names
end

-- A temp dir holding the .sql files of every source dir (files, or whole dirs).
local function copy_migrations(...)
  local dir = h.tmpdir("migrations")
  for _, src in ipairs({ ... }) do
    local from = src:match("%.sql$") and h.shell_quote(src) or (h.shell_quote(src) .. "/*.sql")
    assert(os.execute("cp " .. from .. " " .. h.shell_quote(dir)) == 0, "copy failed: " .. src)
  end
  return dir
end

local function migrate_env(url, dir)
  return { DATABASE_URL = url, MIGRATIONS_DIR = dir, SPEEZY_ENV = "test", LOG_LEVEL = "warn" }
end

-- Runs in an empty directory so a developer's .env can't leak in.
local function migrate(url, dir, sub)
  local argv = { h.bin, "migrate" }
  if sub then argv[3] = sub end
  return h.run(argv, migrate_env(url, dir), { cwd = h.tmpdir("cwd"), timeout_ms = 60000 })
end

local function sha256_of(path)
  local code, out = h.run({ "sha256sum", path })
  assert(code == 0, out)
  return out:match("^(%x+)")
end

local function count_lines(text, pattern)
  local n = 0
  for line in text:gmatch("[^\n]+") do
    if line:match(pattern) then n = n + 1 end
  end
  return n
end

local function escape(s)
  return (s:gsub("%p", "%%%0"))
end

-- Exit code of pid within ms, killing it past that.
local function wait_pid(pid, ms)
  local deadline = h.now_ms() + ms
  repeat
    local got, how, status = wait.wait(pid, wait.WNOHANG)
    if got == pid then return how == "exited" and status or 128 + status end
    h.sleep(20)
  until h.now_ms() > deadline
  psignal.kill(pid, psignal.SIGKILL)
  wait.wait(pid)
  return nil
end

describe("speezy migrate", function()
  setup(function()
    assert(SERVER_URL, "SPEEZY_TEST_DATABASE_URL is not set: run the specs through spec/run")
  end)

  after_each(drop_dbs)

  it("applies every migration of migrations/ to an empty database, in order", function()
    local url = fresh_db()
    local files = list_sql(MIGRATIONS)
    assert.is_true(#files >= 6)
    local code, out = migrate(url, MIGRATIONS)
    assert.equal(0, code, out)
    local last = 0
    for _, name in ipairs(files) do
      local at = out:find("applied " .. name, 1, true)
      assert.truthy(at, name .. " not applied:\n" .. out)
      assert.is_true(at > last, name .. " applied out of order:\n" .. out)
      last = at
    end
    local rows = must(url, "SELECT name || ' ' || checksum FROM schema_migrations ORDER BY version")
    local want = {}
    for _, name in ipairs(files) do
      want[#want + 1] = name .. " " .. sha256_of(MIGRATIONS .. "/" .. name)
    end
    assert.equal(table.concat(want, "\n"), rows)
    local tables = must(url, [[SELECT count(*) FROM information_schema.tables
      WHERE table_schema = 'public' AND table_name IN ('users', 'sessions', 'addresses',
      'stores', 'products', 'orders', 'order_items', 'order_status_history',
      'delivery_partners', 'delivery_assignments', 'idempotency_keys', 'job_outbox')]])
    assert.equal("12", tables)
  end)

  it("applies nothing the second time", function()
    local url = fresh_db()
    local code, out = migrate(url, MIGRATIONS)
    assert.equal(0, code, out)
    local applied = "SELECT string_agg(version || '@' || applied_at, ',') FROM schema_migrations"
    local before = must(url, applied)
    code, out = migrate(url, MIGRATIONS)
    assert.equal(0, code, out)
    assert.matches("nothing to apply", out)
    assert.equal(0, count_lines(out, "^applied "))
    assert.equal(before, must(url, applied))
  end)

  it("applies each file exactly once when three processes start at once", function()
    local url = fresh_db()
    -- 0000_slow holds the lock half a second, so the three runs surely overlap
    local dir = copy_migrations(MIGRATIONS, FIXTURES .. "/migrations-slow")
    local files = list_sql(dir)
    local tmp = h.tmpdir("concurrent")
    local pids, outs = {}, {}
    for i = 1, 3 do
      outs[i] = tmp .. "/out" .. i
      pids[i] = h.spawn({ h.bin, "migrate" }, migrate_env(url, dir), outs[i], tmp)
    end
    local all = {}
    for i = 1, 3 do
      local code = wait_pid(pids[i], 60000)
      all[i] = h.read_file(outs[i]) or ""
      assert.equal(0, code, "process " .. i .. ":\n" .. all[i])
    end
    local text = table.concat(all, "\n")
    for _, name in ipairs(files) do
      assert.equal(1, count_lines(text, "^applied " .. escape(name)), name .. ":\n" .. text)
    end
    assert.equal(2, count_lines(text, "^nothing to apply"), text)
    assert.equal(tostring(#files),
      must(url, "SELECT count(DISTINCT version) FROM schema_migrations"))
    assert.equal(tostring(#files), must(url, "SELECT count(*) FROM schema_migrations"))
  end)

  it("refuses an applied migration that was edited, and applies nothing", function()
    local url = fresh_db()
    local dir = copy_migrations(MIGRATIONS)
    local code, out = migrate(url, dir)
    assert.equal(0, code, out)
    local edited = dir .. "/0002_users_sessions.sql"
    h.write_file(edited, h.read_file(edited) .. "\n-- an afterthought\n")
    h.write_file(dir .. "/0099_new.sql", "CREATE TABLE should_not_exist (id integer);\n")
    code, out = migrate(url, dir)
    assert.equal(1, code, out)
    assert.matches("0002_users_sessions%.sql was edited after it was applied", out)
    assert.equal("", must(url, "SELECT to_regclass('should_not_exist')"))
    assert.equal("0", must(url, "SELECT count(*) FROM schema_migrations WHERE version = 99"))
  end)

  it("rolls a failing migration back whole, names its file and line, and keeps the others",
    function()
      local url = fresh_db()
      local code, out = migrate(url, FIXTURES .. "/migrations-broken")
      assert.equal(1, code, out)
      assert.matches("0002_broken%.sql:5: syntax error", out)
      assert.equal("widgets", must(url, "SELECT to_regclass('widgets')"))
      assert.equal("", must(url, "SELECT to_regclass('gadgets')"))
      assert.equal("1", must(url, "SELECT string_agg(version::text, ',') FROM schema_migrations"))
    end)

  -- One rule for every *.sql (migrate.h): four or more digits, an underscore, a name.
  for _, bad in ipairs({ "widgets-two.sql", "8_noprefix.sql", "001_three_digits.sql",
    "0009-dash.sql", "0010_.sql" }) do
    it("refuses a .sql file named " .. bad .. ", naming it, and applies nothing", function()
      local url = fresh_db()
      local dir = copy_migrations(FIXTURES .. "/migrations-broken/0001_widgets.sql")
      h.write_file(dir .. "/" .. bad, "CREATE TABLE misnamed (id integer);\n")
      local code, out = migrate(url, dir)
      assert.equal(1, code, out)
      assert.matches(escape(bad) .. ": migration files are named NNNN_name%.sql", out)
      assert.equal("", must(url, "SELECT to_regclass('widgets')"))
      assert.equal("", must(url, "SELECT to_regclass('misnamed')"))
    end)
  end

  it("applies a file named NNNN_name.sql and leaves files not ending in .sql alone", function()
    local url = fresh_db()
    local dir = h.tmpdir("migrations")
    h.write_file(dir .. "/0010_valid.sql", "CREATE TABLE valid (id integer);\n")
    h.write_file(dir .. "/README.md", "notes\n")
    h.write_file(dir .. "/0011_draft.sql.orig", "SELEC 1;\n")
    h.write_file(dir .. "/.0012_editor_swap.sql", "SELEC 1;\n")
    local code, out = migrate(url, dir)
    assert.equal(0, code, out)
    assert.matches("applied 0010_valid%.sql", out)
    assert.equal("valid", must(url, "SELECT to_regclass('valid')"))
    assert.equal("10", must(url, "SELECT string_agg(version::text, ',') FROM schema_migrations"))
  end)

  -- Files that end the migration's transaction themselves: { file, SQL, the error it also
  -- reports or nil, tables it committed anyway, tables it must not leave }.
  local ends_tx = {
    { "0011_rb.sql", "CREATE TABLE mig11 (x int);\nROLLBACK;\n", nil, {}, { "mig11" } },
    { "0007_commit_then_fail.sql",
      "BEGIN;\nCREATE TABLE mig7 (x int);\nCOMMIT;\nCREATE TABLE mig7b (x int);\nSELECT 1/0;\n",
      ": division by zero", { "mig7" }, { "mig7b" } },
    { "0013_two_blocks.sql", "BEGIN;\nCREATE TABLE mig13 (x int);\nCOMMIT;\n\n"
      .. "BEGIN;\nCREATE TABLE mig13b (x int);\nSELECT 1/0;\nCOMMIT;\n",
      ": division by zero", { "mig13" }, { "mig13b" } },
    { "0014_rollback_then_begin.sql",
      "CREATE TABLE mig14 (x int);\nROLLBACK;\nBEGIN;\nCREATE TABLE mig14b (x int);\n", nil, {},
      { "mig14", "mig14b" } },
  }

  for _, case in ipairs(ends_tx) do
    local file, sql, failure, committed, absent = case[1], case[2], case[3], case[4], case[5]
    it("refuses " .. file .. ", which ends the migration's transaction itself, and stops there",
      function()
        local url = fresh_db()
        local dir = copy_migrations(FIXTURES .. "/migrations-broken/0001_widgets.sql")
        h.write_file(dir .. "/" .. file, sql)
        h.write_file(dir .. "/0099_after.sql", "CREATE TABLE after_it (x int);\n")
        local code, out = migrate(url, dir)
        assert.equal(1, code, out)
        assert.matches(escape(file) .. (failure and escape(failure) or "") .. "[^\n]*ends the "
          .. "migration's transaction itself %(COMMIT or ROLLBACK inside the file%)", out)
        assert.matches("some of it may already be committed; it is not recorded as applied", out)
        assert.matches("remove the transaction control from the file %(each file already runs "
          .. "in its own transaction%)", out)
        assert.no.matches("nothing of it was applied", out)
        assert.no.matches("applied " .. escape(file), out)
        -- not recorded and the lock released: the next run meets the file again, and stops there
        code, out = migrate(url, dir)
        assert.equal(1, code, out)
        assert.matches(escape(file), out)
        assert.no.matches("waiting for another migrate", out)
        assert.no.matches("applied ", out)
        assert.equal("1", must(url, "SELECT string_agg(version::text, ',') FROM schema_migrations"))
        assert.equal("", must(url, "SELECT to_regclass('after_it')"))
        for _, t in ipairs(committed) do
          assert.equal(t, must(url, ("SELECT to_regclass('%s')"):format(t)), t)
        end
        for _, t in ipairs(absent) do
          assert.equal("", must(url, ("SELECT to_regclass('%s')"):format(t)), t)
        end
        code, out = migrate(url, dir, "status")
        assert.equal(0, code, out)
        assert.matches("pending%s+%-%s+" .. escape(file), out)
      end)
  end

  it("applies a file whose comments, strings, bodies and savepoints hold transaction words",
    function()
      local url = fresh_db()
      local dir = h.tmpdir("migrations")
      h.write_file(dir .. "/0001_words.sql", [[
-- COMMIT; ROLLBACK;
/* BEGIN; END; ABORT; */
CREATE TABLE words (w text);
INSERT INTO words VALUES ('COMMIT;'), ($$ROLLBACK;$$), (E'END;');
CREATE FUNCTION words_count() RETURNS bigint LANGUAGE sql
BEGIN ATOMIC
  SELECT count(*) FROM words;
END;
CREATE FUNCTION words_add(t text) RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
  INSERT INTO words VALUES (t);
END
$body$;
DO $$ BEGIN PERFORM words_add('BEGIN'); END $$;
SAVEPOINT before_gone;
CREATE TABLE gone (x int);
ROLLBACK TO SAVEPOINT before_gone;
RELEASE SAVEPOINT before_gone;
]])
      local code, out = migrate(url, dir)
      assert.equal(0, code, out)
      assert.matches("applied 0001_words%.sql", out)
      assert.equal("4", must(url, "SELECT words_count()"))
      assert.equal("", must(url, "SELECT to_regclass('gone')"))
      assert.equal("1", must(url, "SELECT string_agg(version::text, ',') FROM schema_migrations"))
    end)

  it("fails clearly when the database is unreachable", function()
    local code, out = migrate("postgresql://postgres@127.0.0.1:1/nowhere", MIGRATIONS)
    assert.equal(1, code, out)
    assert.matches("cannot connect", out)
  end)
end)

describe("speezy migrate status", function()
  setup(function()
    assert(SERVER_URL, "SPEEZY_TEST_DATABASE_URL is not set: run the specs through spec/run")
  end)

  after_each(drop_dbs)

  it("lists applied, pending, missing and changed migrations", function()
    local url = fresh_db()
    local files = list_sql(MIGRATIONS)
    local dir = copy_migrations(MIGRATIONS .. "/" .. files[1], MIGRATIONS .. "/" .. files[2])

    local code, out = migrate(url, dir, "status")
    assert.equal(0, code, out)
    assert.matches("pending%s+%-%s+" .. escape(files[1]), out)
    assert.matches("0 applied, 2 pending", out)
    assert.equal("", must(url, "SELECT to_regclass('schema_migrations')"), "status wrote")

    code, out = migrate(url, dir)
    assert.equal(0, code, out)
    assert(os.execute("cp " .. h.shell_quote(MIGRATIONS) .. "/*.sql " .. h.shell_quote(dir)) == 0)
    code, out = migrate(url, dir, "status")
    assert.equal(0, code, out)
    assert.matches("applied%s+%d%d%d%d%-%d%d%-%d%dT[%d:]+Z%s+" .. escape(files[1]), out)
    assert.matches("pending%s+%-%s+" .. escape(files[3]), out)
    assert.matches(("2 applied, %d pending"):format(#files - 2), out)

    os.remove(dir .. "/" .. files[1])
    code, out = migrate(url, dir, "status")
    assert.equal(0, code, out)
    assert.matches("missing%s+%S+%s+" .. escape(files[1]) .. " %(applied, file not found", out)

    h.write_file(dir .. "/" .. files[2], "-- rewritten history\n")
    code, out = migrate(url, dir, "status")
    assert.equal(1, code, out)
    assert.matches("CHANGED%s+%S+%s+" .. escape(files[2]), out)
  end)
end)

describe("the schema of migrations/", function()
  local url

  -- Ids are 1 in a fresh database: owner 1, customer 2, partner 3; store, product, order 1.
  setup(function()
    assert(SERVER_URL, "SPEEZY_TEST_DATABASE_URL is not set: run the specs through spec/run")
    url = fresh_db()
    local code, out = migrate(url, MIGRATIONS)
    assert(code == 0, out)
    must(url, [[
      INSERT INTO users (phone, role) VALUES ('+919876543210', 'STORE_OWNER'),
        ('9876500000', 'CUSTOMER'), ('9876500001', 'DELIVERY_PARTNER');
      INSERT INTO addresses (street, city, country, latitude, longitude)
        VALUES ('1 Main St', 'Pune', 'IN', 18.52, 73.85);
      INSERT INTO stores (owner_id, address_id, name) VALUES (1, 1, 'Corner Shop');
      INSERT INTO products (store_id, name, price_minor, currency, stock)
        VALUES (1, 'Tea', 1000, 'INR', 5);
      INSERT INTO orders (customer_id, store_id, subtotal_minor, delivery_fee_minor, total_minor,
        currency, delivery_address) VALUES (2, 1, 1000, 50, 1050, 'INR', '{"city": "Pune"}');
      INSERT INTO order_status_history (order_id, from_status, to_status)
        VALUES (1, NULL, 'PLACED');
      INSERT INTO delivery_partners (user_id) VALUES (3);
      INSERT INTO delivery_assignments (order_id, partner_id) VALUES (1, 3);
      INSERT INTO sessions (user_id, refresh_hash, expires_at)
        VALUES (2, repeat('a', 64), now() + interval '30 days');
      INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES (2, 'k1', repeat('b', 64));
    ]])
  end)

  teardown(drop_dbs)

  -- { what, statement, what the error must mention (a constraint name or message) }
  local refused = {
    { "a second live user with the same phone",
      "INSERT INTO users (phone) VALUES ('+919876543210')", "users_phone_live_key" },
    { "a phone that is not normalized", "INSERT INTO users (phone) VALUES ('98-76')",
      "users_phone_format" },
    { "an unknown role", "INSERT INTO users (phone, role) VALUES ('5550000', 'ROOT')",
      "invalid input value for enum user_role" },
    { "a second live session of a user", [[INSERT INTO sessions (user_id, refresh_hash, expires_at)
        VALUES (2, repeat('c', 64), now() + interval '1 day')]], "sessions_one_live_per_user" },
    { "a refresh hash that is not SHA-256 hex", [[INSERT INTO sessions (user_id, refresh_hash,
        expires_at) VALUES (1, 'token', now() + interval '1 day')]],
      "sessions_refresh_hash_format" },
    { "a session expiring before it starts", [[INSERT INTO sessions (user_id, refresh_hash,
        expires_at) VALUES (1, repeat('d', 64), now() - interval '1 day')]],
      "sessions_expiry_after_creation" },
    { "a latitude beyond 90", [[INSERT INTO addresses (street, city, country, latitude, longitude)
        VALUES ('x', 'y', 'z', 90.5, 0)]], "addresses_latitude_range" },
    { "a longitude beyond -180", [[INSERT INTO addresses (street, city, country, latitude,
        longitude) VALUES ('x', 'y', 'z', 0, -180.5)]], "addresses_longitude_range" },
    { "a store of an unknown owner",
      "INSERT INTO stores (owner_id, address_id, name) VALUES (99, 1, 'x')",
      "stores_owner_id_fkey" },
    { "opening hours that are not an object", [[INSERT INTO stores (owner_id, address_id, name,
        opening_hours) VALUES (1, 1, 'x', '[]')]], "stores_opening_hours_object" },
    { "a negative price", [[INSERT INTO products (store_id, name, price_minor, currency, stock)
        VALUES (1, 'x', -1, 'INR', 1)]], "products_price_nonneg" },
    { "negative stock", [[INSERT INTO products (store_id, name, price_minor, currency, stock,
        reserved_stock) VALUES (1, 'x', 1, 'INR', -1, 0)]],
      'violates check constraint "products_' },
    { "reserved stock above stock", [[INSERT INTO products (store_id, name, price_minor, currency,
        stock, reserved_stock) VALUES (1, 'x', 1, 'INR', 1, 2)]],
      "products_reserved_within_stock" },
    { "negative reserved stock", [[INSERT INTO products (store_id, name, price_minor, currency,
        stock, reserved_stock) VALUES (1, 'x', 1, 'INR', 1, -1)]],
      "products_reserved_within_stock" },
    { "an oversell", "UPDATE products SET reserved_stock = reserved_stock + 6 WHERE id = 1",
      "products_reserved_within_stock" },
    { "a currency that is not ISO 4217 shaped", [[INSERT INTO products (store_id, name,
        price_minor, currency, stock) VALUES (1, 'x', 1, 'inr', 1)]], "products_currency_format" },
    { "a total that is not subtotal + fee", [[INSERT INTO orders (customer_id, store_id,
        subtotal_minor, delivery_fee_minor, total_minor, currency, delivery_address)
        VALUES (2, 1, 1000, 50, 1000, 'INR', '{}')]], "orders_total_is_sum" },
    { "a negative subtotal", [[INSERT INTO orders (customer_id, store_id, subtotal_minor,
        delivery_fee_minor, total_minor, currency, delivery_address)
        VALUES (2, 1, -10, 10, 0, 'INR', '{}')]], "orders_subtotal_nonneg" },
    { "a negative delivery fee", [[INSERT INTO orders (customer_id, store_id, subtotal_minor,
        delivery_fee_minor, total_minor, currency, delivery_address)
        VALUES (2, 1, 100, -10, 90, 'INR', '{}')]], "orders_delivery_fee_nonneg" },
    { "an address snapshot that is not an object", [[INSERT INTO orders (customer_id, store_id,
        subtotal_minor, delivery_fee_minor, total_minor, currency, delivery_address)
        VALUES (2, 1, 0, 0, 0, 'INR', '"Pune"')]], "orders_delivery_address_object" },
    -- one implicit transaction: order 1 stays PLACED
    { "a pickup without a partner", [[UPDATE orders SET status = 'ACCEPTED' WHERE id = 1;
        UPDATE orders SET status = 'PREPARING' WHERE id = 1;
        UPDATE orders SET status = 'READY_FOR_PICKUP' WHERE id = 1;
        UPDATE orders SET status = 'PICKED_UP' WHERE id = 1]], "orders_partner_when_picked_up" },
    { "a new order that does not start at PLACED", [[INSERT INTO orders (customer_id, store_id,
        delivery_partner_id, status, subtotal_minor, total_minor, currency, delivery_address)
        VALUES (2, 1, 3, 'DELIVERED', 100, 100, 'INR', '{}')]],
      "a new order starts at PLACED, not DELIVERED" },
    { "a skipped lifecycle step", "UPDATE orders SET status = 'DELIVERED' WHERE id = 1",
      "PLACED %-> DELIVERED is not an allowed transition" },
    { "a delivery partner who is not one", "UPDATE orders SET delivery_partner_id = 2 WHERE id = 1",
      "orders_delivery_partner_id_fkey" },
    { "an order item of quantity 0", [[INSERT INTO order_items (order_id, product_id, quantity,
        unit_price_minor, name) VALUES (1, 1, 0, 1000, 'Tea')]], "order_items_quantity_positive" },
    { "an order item with a negative price", [[INSERT INTO order_items (order_id, product_id,
        quantity, unit_price_minor, name) VALUES (1, 1, 1, -1, 'Tea')]],
      "order_items_unit_price_nonneg" },
    { "an illegal transition in the history", [[INSERT INTO order_status_history (order_id,
        from_status, to_status) VALUES (1, 'PLACED', 'DELIVERED')]], "order_status_history_legal" },
    { "an UPDATE of the history", "UPDATE order_status_history SET note = 'rewritten'",
      "order_status_history is append%-only: UPDATE refused" },
    { "a DELETE of the history", "DELETE FROM order_status_history",
      "order_status_history is append%-only: DELETE refused" },
    -- rolled back if accepted, so that a regression fails only here
    { "a TRUNCATE of the history", "BEGIN; TRUNCATE order_status_history; ROLLBACK",
      "order_status_history is append%-only: TRUNCATE refused" },
    { "a TRUNCATE of orders cascading to the history", "BEGIN; TRUNCATE orders CASCADE; ROLLBACK",
      "order_status_history is append%-only: TRUNCATE refused" },
    { "half a partner location", "UPDATE delivery_partners SET last_latitude = 18.5",
      "delivery_partners_location_complete" },
    { "a partner latitude beyond -90", [[UPDATE delivery_partners SET last_latitude = -91,
        last_longitude = 0]], "delivery_partners_latitude_range" },
    { "a second live assignment of an order", [[INSERT INTO delivery_assignments (order_id,
        partner_id) VALUES (1, 3)]], "delivery_assignments_one_live_per_order" },
    { "an idempotency key reused by its user", [[INSERT INTO idempotency_keys (user_id, key,
        request_hash) VALUES (2, 'k1', repeat('c', 64))]], "idempotency_keys_pkey" },
    { "an idempotency status outside in_flight/done", [[INSERT INTO idempotency_keys (user_id, key,
        request_hash, status) VALUES (2, 'k2', repeat('c', 64), 'lost')]],
      "idempotency_keys_status_valid" },
    { "a done idempotency key without its response", [[INSERT INTO idempotency_keys (user_id,
        key, request_hash, status) VALUES (2, 'k3', repeat('c', 64), 'done')]],
      "idempotency_keys_response_when_done" },
    { "outbox options that are not an object", [[INSERT INTO job_outbox (queue, name, opts)
        VALUES ('sms', 'send', '[]')]], "job_outbox_opts_object" },
  }

  for _, case in ipairs(refused) do
    it("refuses " .. case[1], function()
      local code, out = psql(url, case[2])
      assert.are_not.equal(0, code, "accepted: " .. case[2])
      assert.matches(case[3], out)
    end)
  end

  it("reserves, commits and releases stock with conditional updates, never overselling", function()
    local id = must(url, [[INSERT INTO products (store_id, name, price_minor, currency, stock)
      VALUES (1, 'Coffee', 500, 'INR', 5) RETURNING id]])
    local reserve = ([[UPDATE products SET reserved_stock = reserved_stock + 3
      WHERE id = %s AND stock - reserved_stock >= 3 AND deleted_at IS NULL
      RETURNING id]]):format(id)
    assert.equal(id, must(url, reserve))
    assert.equal("", must(url, reserve), "the second reservation of 3 out of 5 must miss")
    -- pickup commits 2, a cancellation releases 1
    must(url, ([[UPDATE products SET stock = stock - 2, reserved_stock = reserved_stock - 2
      WHERE id = %s]]):format(id))
    must(url, ("UPDATE products SET reserved_stock = reserved_stock - 1 WHERE id = %s"):format(id))
    local left = must(url, ("SELECT stock, reserved_stock FROM products WHERE id = %s"):format(id))
    assert.equal("3|0", left)
  end)

  it("accepts a new order placed as PLACED, by default or explicitly", function()
    local insert = [[INSERT INTO orders (customer_id, store_id, %s subtotal_minor, total_minor,
      currency, delivery_address) VALUES (2, 1, %s 100, 100, 'INR', '{}') RETURNING status]]
    assert.equal("PLACED", must(url, insert:format("", "")))
    assert.equal("PLACED", must(url, insert:format("status,", "'PLACED',")))
  end)

  it("walks an order through its whole lifecycle, and no further", function()
    local id = must(url, [[INSERT INTO orders (customer_id, store_id, subtotal_minor, total_minor,
      currency, delivery_address) VALUES (2, 1, 100, 100, 'INR', '{}') RETURNING id]])
    local steps = { { "PLACED", "ACCEPTED" }, { "ACCEPTED", "PREPARING" },
      { "PREPARING", "READY_FOR_PICKUP" }, { "READY_FOR_PICKUP", "PICKED_UP" },
      { "PICKED_UP", "DELIVERED" } }
    for _, s in ipairs(steps) do
      local sql = ([[UPDATE orders SET status = '%s', delivery_partner_id = 3
        WHERE id = %s AND status = '%s' RETURNING status]]):format(s[2], id, s[1])
      assert.equal(s[2], must(url, sql))
      must(url, ([[INSERT INTO order_status_history (order_id, from_status, to_status, actor_id,
        actor_role) VALUES (%s, '%s', '%s', 1, 'STORE_OWNER')]]):format(id, s[1], s[2]))
    end
    local code, out = psql(url, ("UPDATE orders SET status = 'CANCELLED' WHERE id = %s"):format(id))
    assert.are_not.equal(0, code)
    assert.matches("DELIVERED %-> CANCELLED is not an allowed transition", out)
  end)

  it("frees the phone of a soft-deleted user", function()
    must(url, "INSERT INTO users (phone) VALUES ('5550001')")
    must(url, "UPDATE users SET deleted_at = now() WHERE phone = '5550001'")
    must(url, "INSERT INTO users (phone) VALUES ('5550001')")
    assert.equal("2|1", must(url, [[SELECT count(*), count(*) FILTER (WHERE deleted_at IS NULL)
      FROM users WHERE phone = '5550001']]))
  end)

  it("allows a new session once the live one is revoked", function()
    must(url, "UPDATE sessions SET revoked_at = now(), revoked_reason = 'login' WHERE user_id = 2")
    must(url, [[INSERT INTO sessions (user_id, refresh_hash, expires_at)
      VALUES (2, repeat('e', 64), now() + interval '30 days')]])
  end)

  it("finds nearby stores through the location index", function()
    local near = [[SELECT s.id, round(geo_distance_m(18.5, 73.85, a.latitude, a.longitude))
      FROM stores s JOIN addresses a ON a.id = s.address_id
      WHERE point(a.longitude, a.latitude) <@ geo_box(18.5, 73.85, %d)
        AND geo_distance_m(18.5, 73.85, a.latitude, a.longitude) <= %d
        AND s.deleted_at IS NULL]]
    assert.equal("1|2224", must(url, near:format(5000, 5000)))
    assert.equal("", must(url, near:format(1000, 1000)))
    local plan = must(url, "SET enable_seqscan = off; EXPLAIN " .. near:format(5000, 5000))
    assert.matches("addresses_location_idx", plan)
  end)

  it("keeps updated_at truthful", function()
    must(url, "UPDATE stores SET name = 'Corner Shop 2' WHERE id = 1")
    assert.equal("t", must(url, "SELECT updated_at > created_at FROM stores WHERE id = 1"))
  end)
end)
