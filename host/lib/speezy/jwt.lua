-- speezy.jwt: access tokens, HS256 only, keyed by the host's JWT_SECRET (host/jwt.h has the
-- rules; host/bind/bind_jwt.c the C half).
--
--   jwt.sign(claims[, { ttl = 900 }])  --> token (a string)
--   jwt.verify(token)                  --> claims | nil, err
--
-- sign fills in what claims leave out: iat (now), exp (iat + ttl, default 900 s), iss
-- (JWT_ISSUER), aud (JWT_AUDIENCE), jti (128 random bits). Claims it could not verify back
-- (exp not a number, aud neither a string nor a list of strings, a non-string name) raise.
-- verify refuses with err.code UNAUTHORIZED and err.reason one of: malformed, too_long,
-- duplicate, alg, header, unknown_kid, bad_signature, bad_claim, missing_exp, expired,
-- not_yet_valid, issuer, audience (and err.code INTERNAL, reason internal, when OpenSSL
-- fails). err.message is a sentence about the reason, never the token. Both raise when
-- JWT_SECRET is not set.
local core = require "speezy.jwt.core"
local crypto = require "speezy.crypto"
local json = require "speezy.json"
local host = require "speezy.core"
local raise_misuse = require("speezy.misuse").raise

local M = {}

local DEFAULT_TTL = 900


local function misuse(msg)
  raise_misuse("jwt.sign", msg)
end

local function ttl_of(opts)
  if opts == nil then return DEFAULT_TTL end
  if type(opts) ~= "table" then misuse("opts must be a table, got " .. type(opts)) end
  local ttl = opts.ttl
  if ttl == nil then return DEFAULT_TTL end
  if type(ttl) ~= "number" or ttl < 1 or ttl ~= math.floor(ttl) then
    misuse("opts.ttl must be a whole number of seconds, at least 1")
  end
  return ttl
end

function M.sign(claims, opts)
  if type(claims) ~= "table" then misuse("claims must be a table, got " .. type(claims)) end
  local ttl = ttl_of(opts)
  local c = {}
  for k, v in pairs(claims) do
    if type(k) ~= "string" then misuse("claim names must be strings") end
    c[k] = v
  end
  local now = math.floor(host.now())
  local iss, aud = core.defaults()
  if c.iat == nil then c.iat = now end
  if c.exp == nil then c.exp = now + ttl end
  if c.iss == nil then c.iss = iss end
  if c.aud == nil then c.aud = aud end
  if c.jti == nil then c.jti = crypto.base64url_encode(crypto.random_bytes(16)) end
  return core.sign(json.encode(c))
end

M.verify = core.verify

return M
