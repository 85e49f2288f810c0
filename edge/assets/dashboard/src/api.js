// The API client. The key lives in sessionStorage only (gone when the tab closes).

const KEY = "otp-dashboard-key";

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(k) { if (k) sessionStorage.setItem(KEY, k); else sessionStorage.removeItem(KEY); },
  /** "admin" or "tenant", settled at sign-in. */
  role: null,
  /** For a tenant: its /v1/usage answer. */
  usage: null,
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `http_${status}`;
  }
}

/** Calls the API; resolves to `data` of the envelope, or throws an ApiError. */
export async function api(method, path, body) {
  let resp;
  try {
    resp = await fetch(path, {
      method,
      cache: "no-store",
      headers: { Authorization: `Bearer ${session.key}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "network", "The service did not answer. Check your connection and try again.");
  }
  const data = await resp.json().catch(() => null);
  if (!resp.ok || !data || data.success === false) {
    const err = (data && data.error) || {};
    throw new ApiError(resp.status, err.code, err.message);
  }
  return data.data;
}

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : "";
}
