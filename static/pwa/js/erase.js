/* What logging out erases from the device, online or offline, from the page or from the service
 * worker: one set of rules. Everything the patron put on the device goes (snapshot, saved list,
 * visited records, queued actions, search and record pages, web storage); a queued logout stays
 * (it ends the session once online), and so do the app shell, the static assets and the
 * library's pickup locations (no patron data). */

import { deleteWhere, transact } from "./store.js";

export const PATRON_STORES = ["snapshot", "records", "saved"];
export const PUBLIC_META = ["pickup-locations"];
/* search pages (the search history) and visited records */
export const PAGES_CACHE = "opac-pages";

/* Whether a value in ``store`` survives a logout. */
export function keptOnLogout(store, value) {
  if (PATRON_STORES.includes(store)) return false;
  if (store === "queue") return value.kind === "logout";
  if (store === "meta") return PUBLIC_META.includes(value.key);
  return false;
}

export function erasePatronData() {
  const stores = PATRON_STORES.concat(["queue", "meta"]);
  const db = transact(stores, "readwrite", (tx) => {
    for (const name of stores) deleteWhere(tx.objectStore(name), (v) => !keptOnLogout(name, v));
  }).catch(() => {});
  const pages = typeof caches === "undefined" ? Promise.resolve() : caches.delete(PAGES_CACHE).catch(() => {});
  return Promise.all([db, pages]);
}
