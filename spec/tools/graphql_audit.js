#!/usr/bin/env node
// spec/tools/graphql_audit.js — runs graphql-http's auditServer (the GraphQL-over-HTTP
// specification's checklist, from the pinned graphql-http of spec/tools/js) against a live
// /graphql and prints its results as one JSON object, for spec/api/61_graphql_audit_spec.lua.
//
//   node spec/tools/graphql_audit.js http://127.0.0.1:PORT/graphql
//
// Printed: { results: [ { id, name, status, reason } ] }, status "ok", or "error" (a MUST
// failed), "warn" (a SHOULD), "notice" (a MAY); reason is the failure's message. Exits 0 when
// it printed the results, 2 otherwise.
"use strict";

const path = require("path");
const { auditServer } = require(path.join(__dirname, "js/node_modules/graphql-http"));

async function run(url) {
  const results = await auditServer({ url });
  const out = [];
  for (const r of results) {
    let reason = null;
    if (r.status !== "ok") {
      reason = r.reason;
      if (r.response) {
        try {
          reason += ` (answered ${r.response.status}: ${(await r.response.text()).slice(0, 300)})`;
        } catch (e) {
          reason += ` (answered ${r.response.status})`;
        }
      }
    }
    out.push({ id: r.id, name: r.name, status: r.status, reason });
  }
  return { results: out };
}

const url = process.argv[2];
if (!url) {
  process.stderr.write("usage: graphql_audit.js URL\n");
  process.exit(2);
}
run(url).then(
  (facts) => process.stdout.write(JSON.stringify(facts) + "\n"),
  (err) => {
    process.stderr.write(`graphql_audit.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  }
);
