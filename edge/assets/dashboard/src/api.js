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

/** Whether a POST-only route is deployed, asked without side effects: a GET on its path answers
 * 405 (or anything but 404 not_found) once the route exists, 404 not_found while it does not. */
export async function postRouteExists(path) {
  try {
    const resp = await fetch(path, { method: "GET", cache: "no-store", headers: { Authorization: `Bearer ${session.key}` } });
    if (resp.status !== 404) return true;
    const body = await resp.json().catch(() => null);
    return !!(body && body.error && body.error.code && body.error.code !== "not_found");
  } catch {
    return false;
  }
}

/** GET that answers null when the route is not there (404 not_found / 405) instead of throwing. */
export async function getOptional(path) {
  try {
    return await api("GET", path);
  } catch (e) {
    if ((e.status === 404 && e.code === "not_found") || e.status === 405) return null;
    throw e;
  }
}

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : "";
}
