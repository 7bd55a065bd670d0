-- 0001 — the enum types and trigger functions the later migrations share.
--
-- No extension is created: gen_random_uuid() is built into PostgreSQL 13+, and nearby search
-- uses the built-in point type with a GiST index (0003), because earthdistance is not a
-- trusted extension and would make every migration need a superuser.
--
-- Migrations run inside one transaction each (speezy migrate): no BEGIN/COMMIT here and
-- nothing that refuses a transaction (CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE
-- used in the same file).

CREATE TYPE user_role AS ENUM ('CUSTOMER', 'STORE_OWNER', 'DELIVERY_PARTNER', 'ADMIN');

-- The order lifecycle of DOMAIN.md; the allowed transitions are order_status_allowed() (0004).
CREATE TYPE order_status AS ENUM (
  'PLACED', 'ACCEPTED', 'PREPARING', 'READY_FOR_PICKUP', 'PICKED_UP', 'DELIVERED',
  'CANCELLED', 'REJECTED'
);

-- An offer of one order to one delivery partner (0005).
CREATE TYPE assignment_status AS ENUM (
  'OFFERED', 'ACCEPTED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'COMPLETED'
);

-- updated_at stays truthful whatever the writer remembers; a no-op UPDATE keeps it.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW IS DISTINCT FROM OLD THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

-- Append-only tables are evidence: an UPDATE or DELETE is refused as a check violation so
-- the pg binding reports CONSTRAINT_VIOLATION naming <table>_append_only.
CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END
$$;
