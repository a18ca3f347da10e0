/* opac service worker, served at /sw.js (scope /). The server fills in VERSION and PRECACHE.
 *
 * Pages: network first with a short timeout, then the copy on the device, then the offline page.
 * Static assets (content-hashed names): stale-while-revalidate. Visited record and search pages
 * are kept (bounded, least recently used out). Never cached: non-GET requests, staff pages,
 * account pages and anything marked no-store or private; the patron snapshot lives in
 * IndexedDB (written by the page).
 *
 * Logout, online or offline, erases what the patron put on the device (snapshot, saved list,
 * visited records, search and record pages, queued actions); the app shell and static assets stay.
 * A logout made offline is queued with the session's logout token and sent before any other
 * request once the network is back, so nothing is asked of the server with the old session.
 *
 * A module worker: the IndexedDB schema, the erasing rules and the queue items are the page's own
 * modules (static/pwa/js), imported here under the hashed URLs the server writes in. The browser
 * keeps a worker's imports with the worker, so it starts offline.
 */
import { PLACEHOLDER as COVER_PLACEHOLDER } from "./js/covers.js";
import { PAGES_CACHE, erasePatronData } from "./js/erase.js";
import { logoutItem } from "./js/queue.js";
import { cacheable, isKeptPage, isLogout, isPrivatePath, isStaticAsset, pageKey, shellCandidates } from "./js/routes.js";
import { all, del, get, put } from "./js/store.js";

const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const SHELL = "opac-shell-" + VERSION;
const ASSETS = "opac-assets-" + VERSION;
const PAGES = PAGES_CACHE;           // kept across versions: visited records survive updates
const MAX_PAGES = 80;
const NETWORK_TIMEOUT_MS = 3500;

/* ---------- logouts made offline: queued, then sent before anything else ---------- */

let logoutsPending = null;   // null: not known (the worker just started or a logout was queued)
let logoutsGeneration = 0;
let sendingLogouts = null;

function logoutQueued() {
  logoutsGeneration += 1;
  logoutsPending = null;
}

async function queueLogout(token) {
  await put("queue", logoutItem(self.crypto.randomUUID(), token, Date.now())).catch(() => {});
  logoutQueued();
  if (self.registration.sync) self.registration.sync.register("opac-queue").catch(() => {});
}

async function sendOneLogout(item) {
  const s = await withTimeout(fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" }), NETWORK_TIMEOUT_MS);
  const token = (await s.json()).csrf_token;
  const r = await withTimeout(fetch("/api/v1/logout", { method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
    body: JSON.stringify(item.body) }), NETWORK_TIMEOUT_MS);
  return r.status < 500 && r.status !== 400;   // 400 is a stale CSRF token: try again
}

function sendQueuedLogouts() {
  if (logoutsPending === false) return Promise.resolve();
  if (!sendingLogouts) {
    const generation = logoutsGeneration;
    sendingLogouts = (async () => {
      let left = 0;
      try {
        for (const item of (await all("queue")).filter((i) => i.kind === "logout")) {
          let sent = false;
          try { sent = await sendOneLogout(item); } catch (err) { sent = false; }
          if (sent) await del("queue", item.key);
          else left += 1;
        }
      } catch (err) {
        left += 1;
      }
      if (generation === logoutsGeneration) logoutsPending = left > 0;
    })().finally(() => { sendingLogouts = null; });
  }
  return sendingLogouts;
}

/* A logout form post: erase the device first; if the server cannot be reached the logout is queued. */
async function logoutThroughWorker(event) {
  const req = event.request;
  const patron = await get("meta", "patron").catch(() => undefined);
  let token = patron && patron.flag;
  if (!token) token = await req.clone().formData().then((f) => f.get("logout_token")).catch(() => null);
  await erasePatronData().catch(() => {});
  try {
    return await withTimeout(fetch(req), NETWORK_TIMEOUT_MS);
  } catch (err) {
    if (token && token !== "1") await queueLogout(token);
    return Response.redirect("/", 303);
  }
}

/* ---------- lifecycle ---------- */

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(PRECACHE.map((u) => new Request(u, { cache: "reload" })))));
  // no skipWaiting here: the page shows "a new version is ready — reload" and asks for it
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const keep = new Set([SHELL, ASSETS, PAGES]);
    for (const name of await caches.keys()) {
      if (name.startsWith("opac-") && !keep.has(name)) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type === "SKIP_WAITING") self.skipWaiting();
  if (msg.type === "LOGOUT") event.waitUntil(erasePatronData());
  if (msg.type === "LOGOUT_QUEUED") logoutQueued();
  if (msg.type === "LIST_PAGES") {
    event.waitUntil((async () => {
      const c = await caches.open(PAGES);
      const keys = (await c.keys()).map((r) => r.url);
      event.source && event.source.postMessage({ type: "PAGES", pages: keys });
    })());
  }
});

/* ---------- strategies ---------- */

async function trimPages() {
  const c = await caches.open(PAGES);
  const keys = await c.keys();
  for (let i = 0; i < keys.length - MAX_PAGES; i++) await c.delete(keys[i]);
}

async function rememberPage(url, response) {
  const c = await caches.open(PAGES);
  const key = pageKey(url);
  await c.delete(key);            // re-insert: the most recently used goes last
  await c.put(key, response);
  await trimPages();
}

async function fromPages(url) {
  const c = await caches.open(PAGES);
  const key = pageKey(url);
  const hit = await c.match(key);
  if (hit) {
    await c.delete(key);          // touched: move to the end of the LRU order
    await c.put(key, hit.clone());
  }
  return hit;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

async function networkFirstPage(event) {
  const url = new URL(event.request.url);
  try {
    const response = await withTimeout(fetch(event.request), NETWORK_TIMEOUT_MS);
    if (isKeptPage(url) && !isPrivatePath(url) && cacheable(response)) {
      event.waitUntil(rememberPage(url.toString(), response.clone()));
    }
    return response;
  } catch (err) {
    if (!isPrivatePath(url)) {
      const hit = await fromPages(url.toString());
      if (hit) return hit;
    }
    const lang = await language(url);
    if (url.pathname === "/saved") {
      const saved = await shellPage("/saved", lang);
      if (saved) return saved;
    }
    // the offline page reads location.pathname: it shows the loans/holds/card snapshot or
    // searches the records on the device when that is what was asked for
    return (await shellPage("/offline", lang)) || new Response("offline", { status: 503 });
  }
}

/* The interface language of a page asked for: ?hl=, else the language cookie, else the default. */
async function language(url) {
  const asked = url.searchParams.get("hl");
  if (asked) return asked;
  try {
    const c = self.cookieStore && (await self.cookieStore.get("lang"));
    return c ? c.value : null;
  } catch (err) {
    return null;
  }
}

/* A shell page (/offline, /saved) in ``lang``, or in the default language (listed first). */
async function shellPage(path, lang) {
  const shell = await caches.open(SHELL);
  for (const u of shellCandidates(path, lang, PRECACHE)) {
    const hit = await shell.match(u);
    if (hit) return hit;
  }
  return undefined;
}

/* A cover, or the placeholder when it cannot be had (offline): never a broken image. */
async function coverOrPlaceholder(req) {
  try {
    return await fetch(req);
  } catch (err) {
    return (await caches.match(COVER_PLACEHOLDER)) || new Response("", { status: 504 });
  }
}

async function staleWhileRevalidate(event) {
  const cache = await caches.open(ASSETS);
  const hit = (await cache.match(event.request)) || (await caches.match(event.request));
  const refresh = fetch(event.request).then((response) => {
    if (cacheable(response)) cache.put(event.request, response.clone());
    return response;
  }).catch(() => null);
  if (hit) {
    event.waitUntil(refresh);
    return hit;
  }
  return (await refresh) || new Response("", { status: 504 });
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (isStaticAsset(url) || url.pathname === "/manifest.webmanifest") {
    if (req.method === "GET") event.respondWith(staleWhileRevalidate(event));
    return;
  }
  // a logout made offline is sent first: nothing is asked of the server with the old session
  const afterLogouts = (next) => sendQueuedLogouts().catch(() => {}).then(next);
  const waitForLogouts = logoutsPending !== false;
  if (req.method !== "GET") {
    if (req.method === "POST" && isLogout(url)) {
      // logging out erases what the patron left on the device, whatever the page does
      event.respondWith(logoutThroughWorker(event));
    } else if (waitForLogouts) {
      event.respondWith(afterLogouts(() => fetch(req)));
    }
    return;  // never cached
  }
  if (url.pathname.startsWith("/cover/")) {
    event.respondWith(waitForLogouts ? afterLogouts(() => coverOrPlaceholder(req)) : coverOrPlaceholder(req));
    return;
  }
  if (url.pathname.startsWith("/staff") || req.mode !== "navigate") {
    if (waitForLogouts) event.respondWith(afterLogouts(() => fetch(req)));
    return;
  }
  event.respondWith(afterLogouts(() => networkFirstPage(event)));
});

/* ---------- push and background sync ---------- */

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: event.data && event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "Perpustakaan", {
    body: data.body || "", data: { url: data.url || "/" }, icon: "/static/pwa/icons/icon-192.png",
    badge: "/static/pwa/icons/maskable-192.png", tag: data.kind || "opac",
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window" }).then((list) => {
    for (const c of list) { if (c.url.endsWith(target) && "focus" in c) return c.focus(); }
    return self.clients.openWindow(target);
  }));
});

self.addEventListener("sync", (event) => {
  if (event.tag === "opac-queue") {
    event.waitUntil(sendQueuedLogouts().then(() => self.clients.matchAll({ type: "window" })).then((list) => {
      list.forEach((c) => c.postMessage({ type: "FLUSH_QUEUE" }));
    }));
  }
});
