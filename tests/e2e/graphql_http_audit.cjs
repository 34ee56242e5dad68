// Runs the graphql-http server audits (GraphQL over HTTP spec conformance) against a URL and
// prints every result as one JSON array: node graphql_http_audit.cjs URL
"use strict";
const { auditServer } = require("./graphql_http/lib/audits/server.js");

auditServer({ url: process.argv[2] }).then(
  (results) => {
    const summary = results.map(({ id, name, status, reason }) => ({ id, name, status, reason }));
    process.stdout.write(JSON.stringify(summary));
  },
  (error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error));
    process.exit(2);
  },
);
