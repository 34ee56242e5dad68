// Load generator for bench/http.py, in its own node process: autocannon at --connections,
// each request taking the next of the given bodies (and its headers) in turn. With
// `once`, every body is sent exactly once and the run stops when they are used up.
// Reads its plan as JSON on stdin; writes autocannon's result as JSON on stdout.
"use strict";
const fs = require("fs");
const autocannon = require(process.env.AUTOCANNON);

const plan = JSON.parse(fs.readFileSync(0, "utf8"));
const items = plan.items.map((item) => ({
  headers: item.headers,
  body: Buffer.from(item.body, "base64"),
}));
let next = 0;
let instance = null;

function setupRequest(request) {
  const item = items[next % items.length];
  next += 1;
  return { ...request, method: "POST", path: plan.path, headers: item.headers, body: item.body };
}

instance = autocannon(
  {
    url: plan.url,
    connections: plan.connections,
    duration: plan.seconds,
    ...(plan.once ? { amount: items.length } : {}),
    timeout: 60,
    requests: [{ setupRequest }],
  },
  (error, result) => {
    if (error) {
      process.stderr.write(String(error));
      process.exit(1);
    }
    result.sent = next;
    process.stdout.write(JSON.stringify(result));
  },
);
if (plan.once) setTimeout(() => instance.stop(), plan.seconds * 1000).unref();
