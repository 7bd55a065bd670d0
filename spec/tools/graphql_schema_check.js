#!/usr/bin/env node
// spec/tools/graphql_schema_check.js — graphql-js (the reference implementation, pinned in
// spec/tools/js) as a client of a live /graphql: it sends getIntrospectionQuery() with every
// option, builds a client schema from the answer, validates it, and prints it beside our own
// SDL files built by graphql-js, both sorted, for spec/api/63_graphql_js_spec.lua.
//
//   GRAPHQL_QUERY='{ ... }' node spec/tools/graphql_schema_check.js URL FILE.graphql...
//
// Printed: one JSON object { status, errors, valid, introspected, sdl, queryErrors }: the
// HTTP status and errors of the introspection answer, validateSchema's messages, the two
// printed schemas, and graphql-js's validation of GRAPHQL_QUERY against the introspected
// schema. Exits 0 when it printed, 2 otherwise.
"use strict";

const fs = require("fs");
const path = require("path");
const graphql = require(path.join(__dirname, "js/node_modules/graphql"));

async function run(url, files) {
  const query = graphql.getIntrospectionQuery({
    descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true,
    schemaDescription: true, inputValueDeprecation: true,
  });
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
    body: JSON.stringify({ query, operationName: "IntrospectionQuery" }),
  });
  const answer = await res.json();
  const out = { status: res.status, errors: answer.errors || null };
  if (!answer.data) return out;
  const client = graphql.buildClientSchema(answer.data);
  out.valid = graphql.validateSchema(client).map((e) => e.message);
  out.introspected = graphql.printSchema(graphql.lexicographicSortSchema(client));
  const sdl = files.map((f) => fs.readFileSync(f, "utf8")).join("\n");
  out.sdl = graphql.printSchema(graphql.lexicographicSortSchema(graphql.buildSchema(sdl)));
  const doc = graphql.parse(process.env.GRAPHQL_QUERY || "{ __typename }");
  out.queryErrors = graphql.validate(client, doc).map((e) => e.message);
  return out;
}

run(process.argv[2], process.argv.slice(3)).then(
  (out) => { process.stdout.write(JSON.stringify(out) + "\n"); },
  (e) => { process.stderr.write(String((e && e.stack) || e) + "\n"); process.exit(2); },
);
