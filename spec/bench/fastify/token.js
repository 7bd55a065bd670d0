// Mints the access token of the bench's S2 and S5 (spec/bench/run.sh) with @fastify/jwt's
// signer (fast-jwt), shaped as speezy's own (scripts/auth/session.lua, host/lib/speezy/jwt.lua):
// claims sub, role, sid, iat, exp, iss, aud and jti, HS256, and the kid speezy picks its key
// by (host/jwt.h: the first 8 bytes of HMAC-SHA-256(JWT_SECRET, "speezy jwt kid"), base64url).
// Both stacks verify this one token.
//
//   JWT_SECRET=... node token.js SUB ROLE SID   -> the token on stdout
'use strict';

const crypto = require('node:crypto');
const { createSigner } = require('fast-jwt');

const [sub, role, sid] = process.argv.slice(2);
const secret = process.env.JWT_SECRET;
if (!secret || !sub || !role || !sid) {
  console.error('usage: JWT_SECRET=... node token.js SUB ROLE SID');
  process.exit(2);
}
const kid = crypto.createHmac('sha256', secret).update('speezy jwt kid').digest()
  .subarray(0, 8).toString('base64url');
const sign = createSigner({
  key: secret,
  algorithm: 'HS256',
  kid,
  iss: process.env.JWT_ISSUER || 'speezy',
  aud: process.env.JWT_AUDIENCE || 'speezy',
  // A day, not speezy's 900 s: a long `make bench` must not outlive its token.
  expiresIn: 86400 * 1000,
  jti: crypto.randomBytes(16).toString('base64url'),
});
process.stdout.write(`${sign({ sub, role, sid })}\n`);
