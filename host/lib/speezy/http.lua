-- speezy.http — outgoing HTTP for scripts (an SMS provider, a webhook): libcurl on the
-- worker's event loop. A request yields the calling request's or job's coroutine until the
-- answer comes, so the worker serves others meanwhile.
--
--   local res, err = http.request{
--     method = "POST",                                  -- upper case; default "GET"
--     url = "https://sms.example.com/send",             -- http:// or https:// only
--     headers = { ["Content-Type"] = "application/json" }, -- name = string or number
--     body = json.encode(payload),                      -- a string; none by default
--     timeout = 5000,                                   -- ms for the whole exchange
--                                                       -- (default HTTP_TIMEOUT_MS, 10 s)
--     follow = 3,                                       -- redirects to follow (true: 5);
--   }                                                   -- by default a 3xx is the answer
--   --> { status = 200, headers = { ["content-type"] = "..." }, body = "..." }
--
-- Any status is an answer (a 500 too: check res.status). Header names come lower-cased; a
-- header sent twice has its values joined with ", ". Failures are nil, err with err.code
--   HTTP_TIMEOUT    no complete answer within the timeout
--   HTTP_CONNECT    the host did not resolve, refused or could not be reached
--   HTTP_TLS        the TLS handshake failed or the certificate was not verified (wrong CA,
--                   expired, not for this host name)
--   HTTP_TOO_LARGE  the answer's body is over HTTP_MAX_RESPONSE_BYTES (default 1 MiB)
--   HTTP_FAILED     anything else: a bad URL, a broken answer, too many redirects
-- and err.message in words (never the URL or a header: they may carry credentials).
-- TLS certificates are always verified, against the system's CAs plus the PEM bundle
-- HTTP_CA_FILE names (a private CA). Misuse raises with the script's file:line: no url, an
-- unknown option, a method, header or body of the wrong type, a header value with a line
-- break, Content-Length or Transfer-Encoding set by hand, and any call at a script's top
-- level (I/O runs only in handlers and jobs).
local core = require "speezy.http.core"

local M = {}

function M.request(t)
  local op, err = core.request(t)
  if not op then return nil, err end
  core.wait(op)
  return core.result(op)
end

return M
