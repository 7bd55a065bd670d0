// The Node.js stack of the bench (spec/bench/run.sh): the same routes as spec/bench/scripts
// (and, for S5, S6 and S7, scripts/routes/) on Fastify 5, @fastify/jwt, ioredis and pg (pool
// of 10). Redis and PostgreSQL are only connected when REDIS_URL / DATABASE_URL are set, and the
// JWT plugin only registered when JWT_SECRET is, so scenario S1 measures Fastify alone.
'use strict';

// Ajv as speezy.schema checks (S6): unknown properties refused rather than dropped, no type
// coercion of bodies, every failing field reported.
const fastify = require('fastify')({
  logger: false,
  ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
});

const auth = require('./auth');

const jwt = Boolean(process.env.JWT_SECRET);
if (jwt) fastify.register(require('@fastify/jwt'), auth.jwtOptions(process.env));
const { unauthorized } = auth;

if (jwt) {
  // S2: the claims of a verified token.
  fastify.get('/claims', async (req, reply) => {
    try {
      return { success: true, claims: await req.jwtVerify() };
    } catch {
      return unauthorized(reply);
    }
  });
}

fastify.get('/hello', async () => ({ success: true, message: 'hello' }));

let redis;
if (process.env.REDIS_URL) {
  const Redis = require('ioredis');
  redis = new Redis(process.env.REDIS_URL);
  fastify.get('/redis', async () => ({ success: true, value: await redis.get('bench:key') }));
}

if (process.env.DATABASE_URL) {
  const { Pool } = require('pg');
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

  if (jwt && redis) {
    // S5: GET /user/me as scripts/routes/user.lua answers it: the token (auth/bearer.lua),
    // its session live (auth/session.lua), then the user's row (users/service.lua).
    const signedIn = auth.signedInWith({ redis, pool });
    fastify.get('/user/me', async (req, reply) => {
      const user = await signedIn(req);
      if (!user) return unauthorized(reply);
      const id = user.id;
      const { rows } = await pool.query(
        'SELECT id, phone, name, role FROM users WHERE id = $1 AND deleted_at IS NULL', [id]);
      if (rows.length === 0) return unauthorized(reply);
      const u = rows[0];
      // pg reads bigint as a string; speezy's id is a number
      return {
        success: true,
        user: { id: Number(u.id), phone: u.phone, name: u.name, role: u.role },
      };
    });

    // S6 and S7: POST /store and GET /store/:id (spec/bench/fastify/stores.js).
    require('./stores')(fastify, { pool, signedIn, unauthorized });
  }

  fastify.get('/users/:id', async (req, reply) => {
    const { rows } = await pool.query('SELECT id, phone, name, role FROM users WHERE id = $1',
      [req.params.id]);
    if (rows.length === 0) {
      reply.code(404);
      return { success: false, error: { code: 'NOT_FOUND', message: 'user not found' } };
    }
    return { success: true, user: rows[0] };
  });
}

fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).catch((err) => {
  console.error(err);
  process.exit(1);
});
