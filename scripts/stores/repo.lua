-- scripts/stores/repo.lua — the stores' SQL, and nothing else: the service decides, this reads
-- and writes. Every statement is parameterized.
local pg = require "speezy.pg"

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

return M
