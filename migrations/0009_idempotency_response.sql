-- 0009 — what a replay of an Idempotency-Key needs besides status and body (speezy.idempotency).

-- A replay sends what the first answer sent: its Content-Type and the headers the handler set
-- (a Location, say). The body becomes bytea: a handler may answer bytes that are not UTF-8
-- (a file, a PDF), which a text column refuses, and a replay is compared byte for byte.
ALTER TABLE idempotency_keys
  ADD COLUMN response_content_type text,
  ADD COLUMN response_headers jsonb
    CONSTRAINT idempotency_keys_response_headers_object
    CHECK (response_headers IS NULL OR jsonb_typeof(response_headers) = 'object'),
  ALTER COLUMN response_body TYPE bytea USING convert_to(response_body, 'UTF8');

-- A claim whose worker died (crash, kill -9) stays 'in_flight'; the next request with its key
-- takes it over once it is older than the request timeout, so created_at is the claim's age.
COMMENT ON COLUMN idempotency_keys.created_at IS
  'when the current claim was taken (a takeover of an expired or abandoned row renews it)';
