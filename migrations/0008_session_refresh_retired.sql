-- 0008 — refresh tokens a session has rotated past, kept for reuse detection (RFC 9700 4.14.2).
--
-- A refresh replaces sessions.refresh_hash; the old hash lands here. Presenting a hash found
-- here (a token that was already exchanged) means two parties hold the session's tokens: the
-- whole session is revoked. Rows go with their session (ON DELETE CASCADE) and are useless
-- once it expired; the session cleanup job deletes both.
CREATE TABLE session_refresh_retired (
  refresh_hash text PRIMARY KEY CONSTRAINT session_refresh_retired_hash_format
                 CHECK (refresh_hash ~ '^[0-9a-f]{64}$'),
  session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  retired_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX session_refresh_retired_session_idx ON session_refresh_retired (session_id);
