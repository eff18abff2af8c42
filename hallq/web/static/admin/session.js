// The admin session: who is logged in, the CSRF token every change carries, and expiry.
import { api, tr } from "/static/common/hallq.js";

export const session = { state: "unknown", name: "", role: "", csrf: "", token: "", expired: false };

let idleTimer = null;

/** Ask the controller where we stand: "setup", "login" or "ok". */
export async function refreshSession() {
  const r = await api("GET", "/admin/api/session", undefined, { tries: 2 });
  if (!r.ok) {
    return { ok: false, error: r.error };
  }
  Object.assign(session, { name: "", role: "", csrf: "", token: "", expired: false }, r.data);
  if (session.state === "ok") watchIdle(r.data.expires - r.data.now);
  return { ok: true };
}

export function isAdmin() { return session.role === "admin"; }

/**
 * An admin API call: the CSRF token on every change, and a 401 ends the session on the page
 * (the controller said the session expired or is gone). Resolves like api(): {ok, status, data, error}.
 */
export async function call(method, path, body = undefined) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  const r = await api(method, path, body, { headers, prefix: "admin" });
  if (r.status === 401 && session.state === "ok") {
    expire(r.error && r.error.code === "session_expired");
  } else if (r.ok && session.state === "ok") {
    watchIdle(session.idle_seconds || 1800);
  }
  return r;
}

/** Log in or set up with the pre-session token (double submit against login CSRF). */
export async function enter(path, body) {
  const r = await api("POST", path, body, { headers: { "X-CSRF-Token": session.token }, requestId: false, tries: 1 });
  if (r.ok) {
    Object.assign(session, r.data, { token: "", expired: false });
    watchIdle(r.data.expires - r.data.now);
    document.dispatchEvent(new CustomEvent("admin:session"));
  }
  return r;
}

export async function logout() {
  await api("POST", "/admin/api/logout", {}, { headers: { "X-CSRF-Token": session.csrf }, requestId: false, tries: 1 });
  clearTimeout(idleTimer);
  session.state = "login";
  await refreshSession();
  document.dispatchEvent(new CustomEvent("admin:session"));
}

function expire(expired) {
  clearTimeout(idleTimer);
  session.state = "login";
  session.expired = expired;
  document.dispatchEvent(new CustomEvent("admin:expired", { detail: { expired } }));
}

/** After the idle time has run out, ask once (another tab may have kept the session alive). */
function watchIdle(seconds) {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(async () => {
    const r = await api("GET", "/admin/api/session", undefined, { tries: 1 });
    if (r.ok && r.data.state === "ok") {
      Object.assign(session, r.data);
      watchIdle(r.data.expires - r.data.now);
    } else if (r.ok) {
      Object.assign(session, r.data);
      expire(true);
    }
  }, Math.max(5, seconds + 2) * 1000);
}

export function roleName(role) {
  return role === "admin" ? tr("管理员", "Admin") : tr("工作人员", "Staff");
}
