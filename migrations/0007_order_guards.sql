-- 0007 — two holes in the order guards of 0004: TRUNCATE emptied the append-only history, and
-- an order could be inserted past the start of its lifecycle.

-- TRUNCATE fires no row trigger, so the row-level guard of 0004 let it through; a
-- statement-level one refuses it, also when it comes as TRUNCATE orders CASCADE. Same
-- refuse_change() (0001), so the same error: check_violation naming
-- order_status_history_append_only.
CREATE TRIGGER order_status_history_append_only_truncate BEFORE TRUNCATE ON order_status_history
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The transition trigger of 0004 runs on UPDATE only, so an INSERT could create an order
-- already DELIVERED, past every check of the lifecycle: every order starts at PLACED.
CREATE FUNCTION orders_refuse_initial_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a new order starts at PLACED, not %', NEW.status
    USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_status_initial';
END
$$;

CREATE TRIGGER orders_status_initial BEFORE INSERT ON orders
  FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM 'PLACED')
  EXECUTE FUNCTION orders_refuse_initial_status();
