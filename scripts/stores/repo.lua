-- scripts/stores/repo.lua — the stores' SQL, and nothing else: the service decides, this reads
-- and writes. Every statement is parameterized.
local pg = require "speezy.pg"
local ids_lib = require "lib.ids"

local M = {}

-- The address and the store in one statement, so in one transaction (one round trip instead
-- of BEGIN, two INSERTs and COMMIT).
function M.insert(owner_id, s, a)
  local rows = assert(pg.query([[
    WITH a AS (
      INSERT INTO addresses (street, city, state, postal_code, country, latitude, longitude)
      VALUES ($4, $5, $6, $7, $8, $9, $10)
      RETURNING id)
    INSERT INTO stores (owner_id, address_id, name, description, phone)
    SELECT $1, a.id, $2, $3, $11 FROM a
    RETURNING id, name, description, phone, owner_id, address_id]],
    owner_id, s.name, s.description, a.street, a.city, a.state, a.postalCode, a.country,
    a.latitude, a.longitude, s.phone))
  return rows[1]
end

-- A live (not soft-deleted) store joined with its address, or nil.
function M.find(id)
  local rows = assert(pg.query([[
    SELECT s.id, s.name, s.description, s.phone, s.owner_id, s.address_id, s.is_open,
           a.street, a.city, a.state, a.postal_code, a.country, a.latitude, a.longitude
      FROM stores s JOIN addresses a ON a.id = s.address_id
     WHERE s.id = $1 AND s.deleted_at IS NULL]], id))
  return rows[1]
end

-- Up to limit live stores with an id above after_id, in id order; with_total, every row also
-- carries total, the number of live stores (one statement either way). is_open too: a list
-- shows whether a store takes orders.
local PAGE = [[
    SELECT id, name, description, phone, owner_id, address_id, is_open
      FROM stores
     WHERE deleted_at IS NULL AND id > $1
     ORDER BY id
     LIMIT $2]]
local PAGE_WITH_TOTAL = [[
    SELECT id, name, description, phone, owner_id, address_id, is_open,
           (SELECT count(*) FROM stores WHERE deleted_at IS NULL) AS total
      FROM stores
     WHERE deleted_at IS NULL AND id > $1
     ORDER BY id
     LIMIT $2]]

function M.page(after_id, limit, with_total)
  return assert(pg.query(with_total and PAGE_WITH_TOTAL or PAGE, after_id, limit))
end

-- The number of live stores (for a page that came back empty but still wants its total).
function M.count()
  return assert(pg.query("SELECT count(*) AS n FROM stores WHERE deleted_at IS NULL"))[1].n
end

-- Addresses by id, for speezy.loader: one statement for all of them, the answers in the order
-- of ids (nil where there is no such address), in the API's shape (a store's address in
-- GET /store/:id).
function M.addresses_by_ids(ids)
  local wanted = ids_lib.distinct(ids)
  if #wanted == 0 then return {} end
  local rows = assert(pg.query([[
    SELECT id, street, city, state, postal_code AS "postalCode", country, latitude, longitude
      FROM addresses WHERE id = ANY($1::bigint[])]], pg.array(wanted)))
  return ids_lib.in_order(ids, rows)
end

return M
