#!/usr/bin/env node
// spec/tools/openapi_check.js — validates an OpenAPI document with @apidevtools/swagger-parser
// (the pinned copy in spec/tools/js), for spec/api/52_openapi_spec.lua.
//
//   node spec/tools/openapi_check.js FILE
//
// Prints one JSON object: {"valid": true, "paths": N, "operations": N} or {"valid": false,
// "error": "..."}. Exits 0 when it printed its verdict, 2 when it could not run.
"use strict";

const path = require("path");
const SwaggerParser = require(path.join(__dirname, "js/node_modules/@apidevtools/swagger-parser"));

async function main(file) {
  try {
    // validate() checks the document against the OpenAPI 3.1 schema and resolves every $ref.
    const api = await SwaggerParser.validate(file);
    let operations = 0;
    for (const item of Object.values(api.paths || {})) operations += Object.keys(item).length;
    return { valid: true, paths: Object.keys(api.paths || {}).length, operations };
  } catch (e) {
    return { valid: false, error: String(e && e.message ? e.message : e) };
  }
}

if (process.argv.length !== 3) {
  process.stderr.write("usage: openapi_check.js FILE\n");
  process.exit(2);
}
main(process.argv[2]).then(
  (verdict) => process.stdout.write(JSON.stringify(verdict) + "\n"),
  (e) => {
    process.stderr.write(String(e) + "\n");
    process.exit(2);
  },
);
