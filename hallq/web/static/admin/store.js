// The hall configuration as the admin page edits it: the controller's copy and its digest.
// A page edits a draft (a deep copy); saving sends the whole draft with the digest it started
// from, so an edit never overwrites someone else's (409 config_changed_meanwhile).
import { call } from "/static/admin/session.js";

export const store = {
  data: null,
  digest: "",
  text: "",
  restartSections: [],
  listeners: new Set(),
};

export async function loadConfig() {
  const r = await call("GET", "/admin/api/config");
  if (r.ok) {
    store.data = r.data.data;
    store.digest = r.data.digest;
    store.text = r.data.text;
    store.restartSections = r.data.restart_sections || [];
    for (const fn of store.listeners) fn();
  }
  return r;
}

export function draft() {
  return structuredClone(store.data);
}

/**
 * Save a draft made from the configuration with digest `base`. Resolves to the call's result;
 * on success the store holds the new configuration.
 */
export async function saveConfig(data, base) {
  const r = await call("POST", "/admin/api/config", { data, base_digest: base });
  if (r.ok) await loadConfig();
  return r;
}

export async function importConfig(text, name) {
  const r = await call("POST", "/admin/api/config/import", { text, name, base_digest: store.digest });
  if (r.ok) await loadConfig();
  return r;
}

/** The configuration changed on the controller (the feed said so): re-read it unless we have it. */
export async function configChanged(digest) {
  if (digest && digest === store.digest) return false;
  await loadConfig();
  return true;
}
