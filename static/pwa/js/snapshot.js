/* The patron snapshot (loans, holds, card) kept on the device for offline viewing, refreshed at
 * most every five minutes (or when asked), and the library's pickup locations for offline holds. */

import { forgetPatron } from "./forget.js";
import { noop } from "./page.js";
import { dropPatronFlag, isLoggingOut, loggedIn, patronFlag, sameSession } from "./session.js";
import { get, put } from "./store.js";

export const SNAPSHOT_PARTS = [["loans", "/api/v1/loans"], ["holds", "/api/v1/holds"], ["card", "/api/v1/card"]];
export const MAX_AGE_MS = 5 * 60 * 1000;

export const isFresh = (meta, now) => !!meta && now - meta.at < MAX_AGE_MS;

export function refreshSnapshot(force) {
  if (!loggedIn() || !navigator.onLine || isLoggingOut()) return Promise.resolve();
  const flag = patronFlag();
  return get("meta", "snapshot-at").then((m) => {
    if (!force && isFresh(m, Date.now())) return;
    return Promise.all(SNAPSHOT_PARTS.map(([key, url]) =>
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => { if (r.status === 401) throw new Error("logged out"); return r.ok ? r.json() : null; })
        // never write after a logout that happened while this was in flight
        .then((data) => { if (data && sameSession(flag)) return put("snapshot", { key, data, at: Date.now() }); })
    )).then(() => {
      if (sameSession(flag)) return put("meta", { key: "snapshot-at", at: Date.now() });
    }).then(() => fetch("/api/v1/locations", { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null))
      .then((d) => { if (d) return put("meta", { key: "pickup-locations", data: d.locations, at: Date.now() }); }));
  }).catch((e) => {
    // the session ended on the server (expired, or logged out elsewhere): the device forgets the patron
    if (e && e.message === "logged out" && sameSession(flag)) { dropPatronFlag(); return forgetPatron(); }
  }).catch(noop);
}
