// The hot path's JavaScript side: one call from wasm per request made, per request answered and per
// request read, instead of one per header, per init field and per promise (worker-rs's wrappers).
// In a V8 profile of a send those wasm <-> JS crossings and their objects were a third of the
// front's CPU (bench/edge_bench.py --stages). Headers cross as one string, "name\nvalue\n" pairs:
// a header can hold neither a newline nor a NUL, so the encoding cannot be ambiguous.

function toHeaders(text) {
  const h = new Headers();
  const parts = text.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) h.append(parts[i], parts[i + 1]);
  return h;
}

function fromHeaders(headers) {
  let text = '';
  for (const [k, v] of headers) text += k + '\n' + v + '\n';
  return text;
}

// `body` is a view into the wasm memory, which may move at the next allocation: copied before any
// await. The time-out covers the answer's body as well as its head.
export async function httpCall(url, method, headers, body, timeoutMs) {
  const signal = AbortSignal.timeout(timeoutMs);
  const init = { method, headers: toHeaders(headers), signal };
  if (body.length > 0) init.body = body.slice();
  try {
    const r = await fetch(url, init);
    const bytes = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, headers: fromHeaders(r.headers), body: bytes };
  } catch (e) {
    if (signal.aborted) throw new Error('otp-timeout');
    throw e;
  }
}

// A POST to the Durable Object `name` of the namespace `binding`, answered with its status and body.
export async function objectCall(env, binding, name, url, body) {
  const ns = env[binding];
  const r = await ns.get(ns.idFromName(name)).fetch(url, { method: 'POST', body });
  return { status: r.status, headers: '', body: new Uint8Array(await r.arrayBuffer()) };
}

// An incoming request's head: "METHOD\nURL\n" then its header pairs.
export function requestHead(req) {
  return req.method + '\n' + req.url + '\n' + fromHeaders(req.headers);
}

export async function requestBytes(req) {
  return new Uint8Array(await req.arrayBuffer());
}

// A status without a body (204, 304) must get a null one, not an empty one.
export function makeResponse(status, headers, body) {
  return new Response(body.length > 0 ? body.slice() : null, { status, headers: toHeaders(headers) });
}
