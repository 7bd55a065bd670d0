// The Node.js stack of the bench (spec/bench/run.sh): the same routes as spec/bench/scripts
// on Fastify 5, ioredis and pg (pool of 10). Redis and PostgreSQL are only connected when
// REDIS_URL / DATABASE_URL are set, so scenario S1 measures Fastify alone.
'use strict';

const fastify = require('fastify')({ logger: false });

fastify.get('/hello', async () => ({ success: true, message: 'hello' }));

if (process.env.REDIS_URL) {
  const Redis = require('ioredis');
  const redis = new Redis(process.env.REDIS_URL);
  fastify.get('/redis', async () => ({ success: true, value: await redis.get('bench:key') }));
}

if (process.env.DATABASE_URL) {
  const { Pool } = require('pg');
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
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
