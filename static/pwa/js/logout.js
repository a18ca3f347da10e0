/* Logging out, online or offline: the device forgets the patron (forget.js, erase.js). */

import { flushQueue } from "./actions.js";
import { forgetPatron } from "./forget.js";
import { $, $all, el, noop, uuid } from "./page.js";
import { enqueue, logoutItem, queued } from "./queue.js";
import { beginLogout, dropPatronFlag, forgetCsrf, loggedIn, patronFlag, postJSON } from "./session.js";
import { refreshSnapshot } from "./snapshot.js";
import { all, get, put } from "./store.js";
import { registerSync, tellWorker } from "./worker.js";

/* Offline: the device is cleared at once and the logout waits in the queue with the session's
 * logout token; sent on reconnect it ends that session and never a later patron's. */
function logOutOffline() {
  const token = patronFlag();
  dropPatronFlag();
  forgetCsrf();
  return forgetPatron().then(() => {
    if (!token || token === "1") return;
    return enqueue(logoutItem(uuid(), token, Date.now())).then(() => {
      tellWorker({ type: "LOGOUT_QUEUED" });
      registerSync();
    });
  });
}

function settleWithin(promise, ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); promise.then(resolve, resolve); });
}

/* Online: what the patron queued is sent first, then the server ends the session and the device
 * is cleared. ``form`` is the logout form (a real post); without it the API is used. */
export function logOut(form) {
  beginLogout();
  try { localStorage.clear(); sessionStorage.clear(); } catch (e) { /* storage disabled */ }
  if (!navigator.onLine) return logOutOffline().then(() => location.replace("/"));
  return settleWithin(flushQueue(), 8000).then(() => {
    if (form) {
      // the device is cleared before the post goes out; the service worker clears it too and, if
      // the server cannot be reached after all, queues the logout with the token the form carries
      const token = patronFlag();
      if (token && !form.querySelector("input[name=logout_token]")) {
        form.appendChild(el("input", { type: "hidden", name: "logout_token", value: token }));
      }
      return forgetPatron().then(() => form.submit());
    }
    return postJSON("/api/v1/logout", {}).then((r) => {
      if (!r.ok) throw new Error("logout refused");
      forgetCsrf();
      return forgetPatron();
    }).catch(() => logOutOffline())  // the server could not be reached after all: log out as if offline
      .then(() => location.replace("/"));
  });
}

export function initLogout() {
  $all("form[data-logout], form[action$='/logout']").forEach((f) => {
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      $all("button", f).forEach((b) => { b.disabled = true; });
      logOut(f);
    });
  });
  const offlineButton = $("#offline-logout");
  if (offlineButton && loggedIn()) {
    offlineButton.hidden = false;
    offlineButton.addEventListener("click", () => { offlineButton.disabled = true; logOut(null); });
  }
  const flag = patronFlag();
  return Promise.all([get("meta", "patron"), queued()]).then(([known, items]) => {
    const loggedOutOffline = flag && items.some((q) => q.kind === "logout" && q.body && q.body.logout_token === flag);
    if (loggedOutOffline) {
      // logged out on this device while the server was out of reach: the flag goes too
      dropPatronFlag();
      return forgetPatron();
    }
    if (!flag) {
      // logged out (here, in another tab, or the session ran out): nothing of the patron stays
      return all("snapshot").then((snap) => { if (known || snap.length) return forgetPatron(); });
    }
    if (known && known.flag === flag) return;
    // a new login on this device: whatever an earlier patron left goes first
    return (known ? forgetPatron() : Promise.resolve())
      .then(() => put("meta", { key: "patron", flag, at: Date.now() }))
      .then(() => { if (known) return refreshSnapshot(true); });
  }).catch(noop);
}
