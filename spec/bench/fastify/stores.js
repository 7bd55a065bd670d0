// S6 and S7 of the bench on Fastify (spec/bench/run.sh): POST /store and GET /store/:id as
// speezy's scripts answer them (issue #16 items 3 and 4), written the way a Fastify team
// would: JSON schemas checked by Fastify's built-in Ajv (set in app.js to refuse unknown
// properties, coerce nothing and list every failing field, as speezy.schema does), the caller
// checked as S5 does (signedIn: @fastify/jwt, then the session live in Redis), pg for the rest.
//
// POST /store with an Idempotency-Key takes the same steps as speezy's `idempotent = true`:
// claim the key (a row of idempotency_keys, in flight), create the address and the store in
// one transaction, then store the response for replays; a failure releases the key.
'use strict';

const crypto = require('node:crypto');

// Login's phone rule (host/otp.c otp_normalize_phone): a 10-digit Indian mobile number or
// +<country><number>, 8 to 15 digits. (Login also strips spaces, dashes and brackets: a
// store's phone is kept as written, so here they are refused.)
const PHONE = '^(?:[6-9][0-9]{9}|\\+[1-9][0-9]{7,14})$';
const text = (max) => ({ type: 'string', minLength: 1, maxLength: max });

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'phone', 'address'],
  properties: {
    name: text(120),
    description: { type: ['string', 'null'], maxLength: 2000 },
    phone: { type: 'string', pattern: PHONE },
    address: {
      type: 'object',
      additionalProperties: false,
      required: ['street', 'city', 'state', 'postalCode', 'country', 'latitude', 'longitude'],
      properties: {
        street: text(200),
        city: text(120),
        state: text(120),
        postalCode: text(20),
        country: text(120),
        latitude: { type: 'number', minimum: -90, maximum: 90 },
        longitude: { type: 'number', minimum: -180, maximum: 180 },
      },
    },
  },
};

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } },
};

const storeShape = {
  id: { type: 'integer' },
  name: { type: 'string' },
  description: { type: ['string', 'null'] },
  phone: { type: ['string', 'null'] },
  ownerId: { type: 'integer' },
  addressId: { type: 'integer' },
};

const getReply = {
  200: {
    type: 'object',
    properties: {
      success: { type: 'boolean' },
      store: {
        type: 'object',
        properties: {
          ...storeShape,
          address: {
            type: 'object',
            properties: {
              id: { type: 'integer' },
              street: { type: 'string' },
              city: { type: 'string' },
              state: { type: ['string', 'null'] },
              postalCode: { type: ['string', 'null'] },
              country: { type: 'string' },
              latitude: { type: 'number' },
              longitude: { type: 'number' },
            },
          },
        },
      },
    },
  },
};

function fail(reply, status, code, message, details) {
  reply.code(status);
  const error = { code, message };
  if (details) error.details = details;
  return { success: false, error };
}

// speezy.schema's details: one entry per failing field, "address.latitude" style.
function validationDetails(err) {
  return (err.validation || []).map((v) => {
    let field = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.');
    if (v.params && v.params.missingProperty) {
      field = field ? `${field}.${v.params.missingProperty}` : v.params.missingProperty;
    }
    if (v.params && v.params.additionalProperty) {
      field = field ? `${field}.${v.params.additionalProperty}` : v.params.additionalProperty;
    }
    return { field, rule: v.keyword, message: v.message };
  });
}

// The Idempotency-Key, bare or as a structured-field string; undefined when absent, null
// when unusable.
function idempotencyKey(req) {
  let key = req.headers['idempotency-key'];
  if (key === undefined) return undefined;
  key = key.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  return key.length >= 1 && key.length <= 255 ? key : null;
}

module.exports = function stores(fastify, { pool, signedIn, unauthorized }) {
  // The request's bytes, for the idempotency hash (a replay must be the same body).
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    req.rawBody = body;
    try {
      done(null, JSON.parse(body));
    } catch (err) {
      err.statusCode = 400;
      done(err);
    }
  });

  // Claims (user, key): true when this request runs; otherwise the row that holds the key.
  // An expired row is claimed afresh, as if absent.
  const claim = async (userId, key, hash) => {
    const { rowCount } = await pool.query(
      `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, status = 'in_flight', response_status = NULL,
             response_body = NULL, created_at = now(), expires_at = now() + interval '24 hours'
         WHERE idempotency_keys.expires_at <= now()`,
      [userId, key, hash]);
    if (rowCount === 1) return true;
    const { rows } = await pool.query(
      `SELECT request_hash, status, response_status, response_body FROM idempotency_keys
       WHERE user_id = $1 AND key = $2`, [userId, key]);
    return rows[0] || true; // gone in between (purged): run it
  };

  const createStore = async (owner, b) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const a = b.address;
      const addr = await client.query(
        `INSERT INTO addresses (street, city, state, postal_code, country, latitude, longitude)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
        [a.street, a.city, a.state, a.postalCode, a.country, a.latitude, a.longitude]);
      const { rows } = await client.query(
        `INSERT INTO stores (owner_id, address_id, name, description, phone)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, name, description, phone, owner_id, address_id`,
        [owner, addr.rows[0].id, b.name, b.description ?? null, b.phone]);
      await client.query('COMMIT');
      const s = rows[0];
      // pg reads bigint as a string; speezy's ids are numbers
      return {
        id: Number(s.id), name: s.name, description: s.description, phone: s.phone,
        ownerId: Number(s.owner_id), addressId: Number(s.address_id),
      };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  };

  fastify.post('/store', { schema: { body: createBody }, attachValidation: true },
    async (req, reply) => {
      const user = await signedIn(req);
      if (!user) return unauthorized(reply);
      if (user.role !== 'STORE_OWNER' && user.role !== 'ADMIN') {
        return fail(reply, 403, 'FORBIDDEN', 'this route needs the role STORE_OWNER or ADMIN');
      }
      if (req.validationError) {
        return fail(reply, 400, 'VALIDATION_FAILED', 'the request body is not valid',
          validationDetails(req.validationError));
      }
      const key = idempotencyKey(req);
      if (key === null) {
        return fail(reply, 400, 'VALIDATION_FAILED', 'Idempotency-Key must be 1-255 characters');
      }
      if (key !== undefined) {
        const hash = crypto.createHash('sha256').update(`POST /store\n${req.rawBody}`)
          .digest('hex');
        const held = await claim(user.id, key, hash);
        if (held !== true) {
          if (held.request_hash !== hash) {
            return fail(reply, 422, 'IDEMPOTENCY_MISMATCH',
              'this Idempotency-Key was used with another request');
          }
          if (held.status !== 'done') {
            return fail(reply, 409, 'IDEMPOTENCY_IN_FLIGHT',
              'a request with this Idempotency-Key is still running');
          }
          return reply.code(held.response_status).header('Idempotent-Replayed', 'true')
            .type('application/json').send(held.response_body);
        }
        let body;
        try {
          body = JSON.stringify({ success: true, store: await createStore(user.id, req.body) });
        } catch (err) {
          await pool.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2',
            [user.id, key]);
          throw err;
        }
        await pool.query(
          `UPDATE idempotency_keys SET status = 'done', response_status = 201, response_body = $3
           WHERE user_id = $1 AND key = $2`, [user.id, key, body]);
        return reply.code(201).type('application/json').send(body);
      }
      reply.code(201);
      return { success: true, store: await createStore(user.id, req.body) };
    });

  fastify.get('/store/:id',
    { schema: { params: idParams, response: getReply }, attachValidation: true },
    async (req, reply) => {
      if (req.validationError) {
        return fail(reply, 400, 'VALIDATION_FAILED', 'the path is not valid',
          validationDetails(req.validationError));
      }
      const { rows } = await pool.query(
        `SELECT s.id, s.name, s.description, s.phone, s.owner_id, s.address_id,
                a.street, a.city, a.state, a.postal_code, a.country, a.latitude, a.longitude
         FROM stores s JOIN addresses a ON a.id = s.address_id
         WHERE s.id = $1 AND s.deleted_at IS NULL`, [req.params.id]);
      if (rows.length === 0) return fail(reply, 404, 'NOT_FOUND', 'store not found');
      const s = rows[0];
      return {
        success: true,
        store: {
          id: Number(s.id), name: s.name, description: s.description, phone: s.phone,
          ownerId: Number(s.owner_id), addressId: Number(s.address_id),
          address: {
            id: Number(s.address_id), street: s.street, city: s.city, state: s.state,
            postalCode: s.postal_code, country: s.country, latitude: s.latitude,
            longitude: s.longitude,
          },
        },
      };
    });
};
