// Load generator for bench/http.py, in its own node process: autocannon at --connections,
// each request taking the next of the given bodies (and its headers) in turn. With
// `once`, every body is sent exactly once and the run stops when they are used up.
// Reads its plan as JSON on stdin; writes autocannon's result as JSON on stdout, with
// `sent` (bodies taken) and `answered` (the indices of the bodies answered 2xx).
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
const answered = [];

// One request in flight per connection: its context names the body it carries until the
// answer comes back (autocannon gives each connection a context of its own).
function setupRequest(request, context) {
  const index = next % items.length;
  const item = items[index];
  next += 1;
  context.index = index;
  return { ...request, method: "POST", path: plan.path, headers: item.headers, body: item.body };
}

function onResponse(status, body, context) {
  if (status >= 200 && status < 300) answered.push(context.index);
}

instance = autocannon(
  {
    url: plan.url,
    connections: plan.connections,
    duration: plan.seconds,
    ...(plan.once ? { amount: items.length } : {}),
    timeout: 60,
    requests: [{ setupRequest, onResponse }],
  },
  (error, result) => {
    if (error) {
      process.stderr.write(String(error));
      process.exit(1);
    }
    result.sent = next;
    result.answered = answered;
    process.stdout.write(JSON.stringify(result));
  },
);
if (plan.once) setTimeout(() => instance.stop(), plan.seconds * 1000).unref();
