// The GraphQL side of the bench's Node stack (spec/bench/run.sh, S8 and S9): Mercurius on
// Fastify 5 answering POST /graphql with the parts of speezy's schema (issue #17) the two
// scenarios query, doing the work speezy does for them:
//   S8 `{ me { id phone role } }`: the Bearer token verified by @fastify/jwt and its session
//      checked in Redis (auth.js, as the REST S5 in app.js), then the user's row from pg;
//   S9 `{ stores(first: 20) { edges { node { id name owner { id phone } address { city } } } } }`:
//      a page of stores from pg, their owners and addresses through Mercurius' own loaders
//      (one query per level for the page, not one per store).
// Mercurius runs with its production defaults, as a Fastify team would deploy it: the
// document cache on (`cache` unset: an LRU of 1024 parsed and validated queries by text, and
// one of the failing ones), the JIT off (`jit` unset is 0: graphql-jit never compiles a
// query), GraphiQL off, no batched queries, no depth limit.
'use strict';

const fastify = require('fastify')({ logger: false });
const mercurius = require('mercurius');
const { Pool } = require('pg');
const Redis = require('ioredis');
const auth = require('./auth');

for (const name of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'PORT']) {
  if (!process.env[name]) {
    console.error(`mercurius.js: ${name} is not set`);
    process.exit(2);
  }
}
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const redis = new Redis(process.env.REDIS_URL);
fastify.register(require('@fastify/jwt'), auth.jwtOptions(process.env));
const signedIn = auth.signedInWith({ redis, pool });

const schema = `
  enum Role { CUSTOMER STORE_OWNER DELIVERY_PARTNER ADMIN }

  type User {
    id: ID!
    phone: String!
    name: String
    role: Role!
  }

  type Address {
    id: ID!
    street: String!
    city: String!
    state: String
    postalCode: String
    country: String!
    latitude: Float!
    longitude: Float!
  }

  type Store {
    id: ID!
    name: String!
    description: String
    phone: String
    owner: User!
    address: Address!
  }

  type PageInfo {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }

  type StoreEdge {
    cursor: String!
    node: Store!
  }

  type StoreConnection {
    edges: [StoreEdge!]!
    pageInfo: PageInfo!
  }

  type Query {
    me: User
    stores(first: Int = 20, after: String): StoreConnection!
  }
`;

const MAX_PAGE = 100;

function unauthenticated() {
  return new mercurius.ErrorWithProps('Authentication required', { code: 'UNAUTHENTICATED' });
}

// A cursor is the store's id, opaque to clients.
const cursorOf = (id) => Buffer.from(`store:${id}`).toString('base64url');
function idOfCursor(cursor) {
  const m = /^store:([1-9][0-9]{0,17})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new mercurius.ErrorWithProps('after is not a cursor', { code: 'BAD_USER_INPUT' });
  return m[1];
}

const resolvers = {
  Query: {
    me: async (_, __, ctx) => {
      if (!ctx.user) throw unauthenticated();
      const { rows } = await pool.query(
        'SELECT id, phone, name, role FROM users WHERE id = $1 AND deleted_at IS NULL',
        [ctx.user.id]);
      if (rows.length === 0) throw unauthenticated();
      return rows[0];
    },
    stores: async (_, { first, after }) => {
      if (first < 0 || first > MAX_PAGE) {
        throw new mercurius.ErrorWithProps(`first must be 0 to ${MAX_PAGE}`,
          { code: 'BAD_USER_INPUT' });
      }
      const from = after == null ? '0' : idOfCursor(after);
      // one row more than asked: whether there is a next page
      const { rows } = await pool.query(
        `SELECT id, name, description, phone, owner_id, address_id FROM stores
         WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2`, [from, first + 1]);
      const page = rows.slice(0, first);
      const edges = page.map((s) => ({ cursor: cursorOf(s.id), node: s }));
      return {
        edges,
        pageInfo: {
          hasNextPage: rows.length > first,
          hasPreviousPage: after != null,
          startCursor: edges.length ? edges[0].cursor : null,
          endCursor: edges.length ? edges[edges.length - 1].cursor : null,
        },
      };
    },
  },
};

// Rows by id for a batch of keys, in the order of the keys (null where none).
function byIds(rows, ids) {
  const found = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => found.get(id) ?? null);
}

// One statement per field for the whole page: Mercurius calls each loader once per tick with
// every store of the level (each (store, args) once: its per-request cache).
const loaders = {
  Store: {
    // As speezy's schema says (@auth(roles: [ADMIN])): owners are administrators' to read.
    owner: async (queries, ctx) => {
      if (!ctx.user) throw unauthenticated();
      if (ctx.user.role !== 'ADMIN') {
        throw new mercurius.ErrorWithProps('Forbidden', { code: 'FORBIDDEN' });
      }
      const ids = queries.map(({ obj }) => obj.owner_id);
      const { rows } = await pool.query(
        'SELECT id, phone, name, role FROM users WHERE id = ANY($1::bigint[])', [ids]);
      return byIds(rows, ids);
    },
    address: async (queries) => {
      const ids = queries.map(({ obj }) => obj.address_id);
      const { rows } = await pool.query(
        `SELECT id, street, city, state, postal_code AS "postalCode", country, latitude,
                longitude
         FROM addresses WHERE id = ANY($1::bigint[])`, [ids]);
      return byIds(rows, ids);
    },
  },
};

fastify.register(mercurius, {
  schema,
  resolvers,
  loaders,
  // The caller, as speezy's /graphql finds it: no Authorization header, no user; a token is
  // verified and its session checked before any resolver runs.
  context: async (request) => ({
    user: request.headers.authorization === undefined ? null : await signedIn(request),
  }),
});

fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).catch((err) => {
  console.error(err);
  process.exit(1);
});
