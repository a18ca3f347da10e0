/* The app around the pages: the service worker and its update prompt, the offline banner, install. */

import { flushQueue } from "./actions.js";
import { $, $all } from "./page.js";
import { syncSaved } from "./saved.js";
import { refreshSnapshot } from "./snapshot.js";
import { setRegistration } from "./worker.js";

export function initServiceWorker(url) {
  if (!("serviceWorker" in navigator)) return;
  let reloading = false;
  let wantReload = false;  // only after "reload" was chosen; the first install just takes control
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (reloading || !wantReload) return;
    reloading = true;
    location.reload();
  });
  navigator.serviceWorker.addEventListener("message", (ev) => {
    if (ev.data && ev.data.type === "FLUSH_QUEUE") flushQueue();
  });
  // a module worker: it imports the same modules as the page (see sw.js)
  navigator.serviceWorker.register(url, { scope: "/", type: "module" }).then((reg) => {
    const offer = (worker) => {
      const banner = $("#update-banner");
      if (!banner || !worker) return;
      banner.hidden = false;
      $("#update-reload").onclick = () => { wantReload = true; worker.postMessage({ type: "SKIP_WAITING" }); };
    };
    if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const w = reg.installing;
      if (!w) return;
      w.addEventListener("statechange", () => {
        if (w.state === "installed" && navigator.serviceWorker.controller) offer(w);
      });
    });
    // look for a new version now and then while the app stays open
    setInterval(() => reg.update().catch(() => {}), 30 * 60 * 1000);
    setRegistration(reg);
  }).catch(() => {});
}

export function initOnlineState() {
  const banner = $("#offline-banner");
  // the offline page says so in its heading: the banner would say it twice
  const offlinePage = !!$("#offline-app");
  const update = () => {
    const off = !navigator.onLine;
    if (banner) banner.hidden = !off || offlinePage;
    document.documentElement.classList.toggle("is-offline", off);
    $all("[data-stale]").forEach((n) => { n.hidden = !off; });
    if (!off) { flushQueue(); refreshSnapshot(false); syncSaved(); }
  };
  window.addEventListener("online", update);
  window.addEventListener("offline", update);
  update();
}

export function initInstall() {
  const hint = $("#install-hint");
  if (!hint) return;
  let deferred = null;
  window.addEventListener("beforeinstallprompt", (e) => {
    e.preventDefault();
    deferred = e;
    hint.hidden = false;
  });
  $("#install-button").addEventListener("click", () => {
    if (!deferred) return;
    deferred.prompt();
    deferred.userChoice.then(() => { hint.hidden = true; deferred = null; });
  });
  if (/iphone|ipad|ipod/i.test(navigator.userAgent) && !window.navigator.standalone) {
    hint.hidden = false;
    $("#install-button").hidden = true;
    $(".ios-install", hint).hidden = false;
  }
}
