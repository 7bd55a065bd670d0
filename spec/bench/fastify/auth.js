// The caller check of the bench's Node stack (spec/bench/run.sh), shared by the REST app
// (app.js: S2, S5, S6, S7) and the GraphQL one (mercurius.js: S8, S9), so that both do the
// same work per request as speezy's scripts/auth/bearer.lua and scripts/auth/session.lua.
'use strict';

// What speezy.jwt checks, as far as @fastify/jwt (fast-jwt) can at no extra cost: HS256 only,
// the signature, exp required, nbf, iss and aud (JWT_ISSUER / JWT_AUDIENCE, both "speezy"
// by default) with speezy's 30 s of leeway (JWT_LEEWAY, host/jwt.h), a `crit` header
// refused. Not checked here: the kid (one key, so nothing to pick) and duplicate names in
// the JSON. No verifier cache (fast-jwt's default): every request checks its token.
function jwtOptions(env) {
  return {
    secret: env.JWT_SECRET,
    verify: {
      algorithms: ['HS256'],
      allowedIss: env.JWT_ISSUER || 'speezy',
      allowedAud: env.JWT_AUDIENCE || 'speezy',
      requiredClaims: ['exp'],
      clockTolerance: 30000,
    },
  };
}

// The error envelope of speezy's 401 (scripts/auth/bearer.lua).
function unauthorized(reply) {
  reply.code(401).header('WWW-Authenticate', 'Bearer realm="speezy", error="invalid_token"');
  return {
    success: false,
    error: { code: 'UNAUTHORIZED', message: 'a valid access token is required' },
  };
}

// signedIn(req): { id, role, sid } of a verified token whose session is live (Redis
// sess:<sid>, PostgreSQL when Redis has no word, as auth/session.lua decides), or null.
function signedInWith({ redis, pool }) {
  const sessionLive = async (sid) => {
    const state = await redis.get(`sess:${sid}`);
    if (state === 'live') return true;
    if (state === 'revoked') return false;
    // (not taken in the bench: spec/bench/data.sh stores the key)
    const { rows } = await pool.query(
      'SELECT revoked_at IS NULL AND expires_at > now() AS live FROM sessions WHERE id = $1',
      [sid]);
    const live = rows.length > 0 && rows[0].live;
    await redis.set(`sess:${sid}`, live ? 'live' : 'revoked', 'EX', live ? 2592000 : 960, 'NX');
    return live;
  };
  return async (req) => {
    let claims;
    try {
      claims = await req.jwtVerify();
    } catch {
      return null;
    }
    const id = Number(claims.sub);
    if (!Number.isInteger(id) || typeof claims.sid !== 'string' ||
        typeof claims.role !== 'string' || !(await sessionLive(claims.sid))) {
      return null;
    }
    return { id, role: claims.role, sid: claims.sid };
  };
}

module.exports = { jwtOptions, unauthorized, signedInWith };
