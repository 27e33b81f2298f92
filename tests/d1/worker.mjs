// A Worker that answers Cloudflare's D1 REST API shape from a real (local) D1
// binding, for atom's mirror tests:
//   POST /client/v4/accounts/{account}/d1/database/{db}/query
//   body {"sql": "...", "params": [...]} or {"batch": [{"sql", "params"}, ...]}
// It checks `Authorization: Bearer <TOKEN>` and answers like Cloudflare does.
// Test controls (not part of the API):
//   POST /__control/fail  {"status": 429, "retry_after": "1", "times": 1}
//   GET  /__control/stats -> {"requests": n, "failed": n}

let failPlan = null;
const stats = { requests: 0, failed: 0 };

function envelope(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function cfError(status, code, message, headers = {}) {
  return new Response(
    JSON.stringify({ result: null, success: false, errors: [{ code, message }], messages: [] }),
    { status, headers: { "content-type": "application/json", ...headers } },
  );
}

function statement(env, q) {
  if (!q || typeof q.sql !== "string") throw new Error("each query needs a string `sql`");
  const params = q.params ?? [];
  for (const p of params) {
    if (p !== null && typeof p !== "string" && typeof p !== "number") {
      throw new Error(`params must be strings, numbers or null, got ${JSON.stringify(p)}`);
    }
  }
  return env.DB.prepare(q.sql).bind(...params);
}

function shape(r) {
  return { results: r.results ?? [], success: true, meta: r.meta ?? {} };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/__control/fail" && request.method === "POST") {
      failPlan = await request.json();
      return envelope(200, { ok: true });
    }
    if (url.pathname === "/__control/stats") {
      return envelope(200, stats);
    }
    const m = url.pathname.match(/^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/query$/);
    if (!m || request.method !== "POST") {
      return cfError(404, 7000, "No route for that URI");
    }
    stats.requests += 1;
    const auth = request.headers.get("authorization") ?? "";
    if (!auth.startsWith("Bearer ")) {
      return cfError(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers");
    }
    if (auth !== `Bearer ${env.TOKEN}`) {
      return cfError(403, 10000, "Authentication error");
    }
    if (m[1] !== env.ACCOUNT || m[2] !== env.DATABASE) {
      return cfError(404, 7404, `The database ${m[2]} could not be found`);
    }
    if (failPlan && (failPlan.times ?? 1) > 0) {
      failPlan.times = (failPlan.times ?? 1) - 1;
      stats.failed += 1;
      const headers = failPlan.retry_after !== undefined ? { "retry-after": String(failPlan.retry_after) } : {};
      return cfError(failPlan.status ?? 429, 971, "Please wait and consider throttling your request speed", headers);
    }
    let body;
    try {
      body = await request.json();
    } catch (e) {
      return cfError(400, 7400, "The request is malformed: body is not JSON");
    }
    try {
      if (Array.isArray(body.batch)) {
        const results = await env.DB.batch(body.batch.map((q) => statement(env, q)));
        return envelope(200, { result: results.map(shape), success: true, errors: [], messages: [] });
      }
      const r = await statement(env, body).all();
      return envelope(200, { result: [shape(r)], success: true, errors: [], messages: [] });
    } catch (e) {
      return cfError(400, 7500, String(e.message ?? e));
    }
  },
};
