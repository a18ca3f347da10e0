/* opac app script: progressive enhancement only; every page works without it.
 * Service worker and update prompt, install button, offline banner, patron snapshot,
 * saved list, visited records, offline search, queued offline actions, scanner, push. */
(function () {
  "use strict";
  var doc = document;
  var T = {};
  try { T = JSON.parse((doc.getElementById("i18n") || {}).textContent || "{}"); } catch (e) { T = {}; }
  function t(key, vars) {
    var s = T[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(vars[k]); });
    return s;
  }
  function $(sel, root) { return (root || doc).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || doc).querySelectorAll(sel)); }
  function el(tag, attrs, text) {
    var e = doc.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  /* The patron flag cookie: present while a patron is logged in; its value is the session's
   * logout token (it names the session, it is no credential). */
  function patronFlag() {
    var m = doc.cookie.match(/(?:^|;\s*)opac_patron=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function loggedIn() { return !!patronFlag(); }
  function dropPatronFlag() {
    doc.cookie = "opac_patron=; Max-Age=0; path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  }
  function noop() {}

  /* ---------------- IndexedDB (the same database as the service worker) ---------------- */
  var dbPromise = null;
  function idb() {
    if (!window.indexedDB) return Promise.reject(new Error("no indexedDB"));
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open("opac", 2);
        req.onupgradeneeded = function () {
          var d = req.result;
          ["snapshot", "records", "saved", "queue", "meta"].forEach(function (n) {
            if (!d.objectStoreNames.contains(n)) d.createObjectStore(n, { keyPath: "key" });
          });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function store(name, mode, fn) {
    return idb().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(name, mode);
        var result = fn(tx.objectStore(name));
        tx.oncomplete = function () { resolve(result instanceof IDBRequest ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function put(name, value) { return store(name, "readwrite", function (s) { return s.put(value); }); }
  function del(name, key) { return store(name, "readwrite", function (s) { return s.delete(key); }); }
  function get(name, key) { return store(name, "readonly", function (s) { return s.get(key); }); }
  function all(name) { return store(name, "readonly", function (s) { return s.getAll(); }); }
  function clear(name) { return store(name, "readwrite", function (s) { return s.clear(); }); }

  /* ---------------- service worker, update prompt, offline banner ---------------- */
  function initServiceWorker() {
    if (!("serviceWorker" in navigator)) return;
    var reloading = false;
    var wantReload = false;  // only after "reload" was chosen; the first install just takes control
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      if (reloading || !wantReload) return;
      reloading = true;
      location.reload();
    });
    navigator.serviceWorker.addEventListener("message", function (ev) {
      if (ev.data && ev.data.type === "FLUSH_QUEUE") flushQueue();
    });
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function (reg) {
      function offer(worker) {
        var banner = $("#update-banner");
        if (!banner || !worker) return;
        banner.hidden = false;
        $("#update-reload").onclick = function () { wantReload = true; worker.postMessage({ type: "SKIP_WAITING" }); };
      }
      if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
      reg.addEventListener("updatefound", function () {
        var w = reg.installing;
        if (!w) return;
        w.addEventListener("statechange", function () {
          if (w.state === "installed" && navigator.serviceWorker.controller) offer(w);
        });
      });
      // look for a new version now and then while the app stays open
      setInterval(function () { reg.update().catch(function () {}); }, 30 * 60 * 1000);
      window.opacSW = reg;
    }).catch(function () {});
  }

  function initOnlineState() {
    var banner = $("#offline-banner");
    function update() {
      var off = !navigator.onLine;
      if (banner) banner.hidden = !off;
      doc.documentElement.classList.toggle("is-offline", off);
      $all("[data-stale]").forEach(function (n) { n.hidden = !off; });
      if (!off) { flushQueue(); refreshSnapshot(false); syncSaved(); }
    }
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    update();
  }

  /* ---------------- install ---------------- */
  function initInstall() {
    var hint = $("#install-hint");
    if (!hint) return;
    var deferred = null;
    window.addEventListener("beforeinstallprompt", function (e) {
      e.preventDefault();
      deferred = e;
      hint.hidden = false;
    });
    $("#install-button").addEventListener("click", function () {
      if (!deferred) return;
      deferred.prompt();
      deferred.userChoice.then(function () { hint.hidden = true; deferred = null; });
    });
    var ios = /iphone|ipad|ipod/i.test(navigator.userAgent) && !window.navigator.standalone;
    if (ios) {
      hint.hidden = false;
      $("#install-button").hidden = true;
      $(".ios-install", hint).hidden = false;
    }
  }

  /* ---------------- visited records and the saved list ---------------- */
  function recordFromPage() {
    var art = $("article.record[data-record-id]");
    if (!art) return null;
    return { key: String(art.getAttribute("data-record-id")), id: Number(art.getAttribute("data-record-id")),
      title: art.getAttribute("data-record-title"), author: art.getAttribute("data-record-author"),
      year: art.getAttribute("data-record-year"), url: location.pathname, at: Date.now() };
  }

  function initRecordPage() {
    var rec = recordFromPage();
    if (!rec) return;
    put("records", rec).catch(function () {});
    var btn = $("[data-save-record]");
    if (!btn) return;
    btn.hidden = false;
    function label(saved) { btn.textContent = saved ? t("saved") : t("save"); btn.setAttribute("aria-pressed", saved ? "true" : "false"); }
    get("saved", rec.key).then(function (s) { label(!!s && !s.removed); }).catch(function () {});
    btn.addEventListener("click", function () {
      get("saved", rec.key).then(function (s) {
        var saved = !!s && !s.removed;
        var next = saved ? Object.assign({}, rec, { removed: true, dirty: true }) : Object.assign({}, rec, { removed: false, dirty: true });
        return put("saved", next).then(function () { label(!saved); syncSaved(); });
      });
    });
  }

  function syncSaved() {
    if (!loggedIn() || !navigator.onLine || loggingOut) return Promise.resolve();
    var flag = patronFlag();
    return all("saved").then(function (items) {
      var add = items.filter(function (i) { return i.dirty && !i.removed; }).map(function (i) { return i.id; });
      var remove = items.filter(function (i) { return i.dirty && i.removed; }).map(function (i) { return i.id; });
      return csrf().then(function (token) {
        return fetch("/api/v1/saved/sync", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": token }, body: JSON.stringify({ add: add, remove: remove }) });
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (!data || !sameSession(flag)) return;  // never write after a logout made meanwhile
        return clear("saved").then(function () {
          return Promise.all(data.saved.map(function (s) {
            return put("saved", { key: String(s.id), id: s.id, title: s.title, author: s.author, year: s.year, url: s.url, removed: false, dirty: false });
          }));
        }).then(renderSaved);
      });
    }).catch(function () {});
  }

  function renderSaved() {
    var list = $("#saved-list");
    if (!list) return;
    all("saved").then(function (items) {
      items = items.filter(function (i) { return !i.removed; });
      list.textContent = "";
      if (!items.length) { list.appendChild(el("li", {}, list.getAttribute("data-t-empty"))); return; }
      items.forEach(function (i) {
        var li = el("li", { "class": "card" });
        var a = el("a", { href: i.url }, i.title);
        li.appendChild(el("h2", { "class": "h3" })).appendChild(a);
        if (i.author || i.year) li.appendChild(el("p", {}, [i.author, i.year].filter(Boolean).join(" · ")));
        var b = el("button", { type: "button", "class": "btn btn-small" }, list.getAttribute("data-t-remove"));
        b.addEventListener("click", function () {
          put("saved", Object.assign({}, i, { removed: true, dirty: true })).then(function () { renderSaved(); syncSaved(); });
        });
        li.appendChild(b);
        list.appendChild(li);
      });
    }).catch(function () {});
  }

  /* ---------------- patron snapshot (loans, holds, card) for offline viewing ---------------- */
  function refreshSnapshot(force) {
    if (!loggedIn() || !navigator.onLine || loggingOut) return Promise.resolve();
    var flag = patronFlag();
    return get("meta", "snapshot-at").then(function (m) {
      if (!force && m && Date.now() - m.at < 5 * 60 * 1000) return;
      var parts = [["loans", "/api/v1/loans"], ["holds", "/api/v1/holds"], ["card", "/api/v1/card"]];
      return Promise.all(parts.map(function (p) {
        return fetch(p[1], { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { if (r.status === 401) throw new Error("logged out"); return r.ok ? r.json() : null; })
          .then(function (data) {
            // never write after a logout that happened while this was in flight
            if (data && sameSession(flag)) return put("snapshot", { key: p[0], data: data, at: Date.now() });
          });
      })).then(function () {
        if (sameSession(flag)) return put("meta", { key: "snapshot-at", at: Date.now() });
      }).then(function () {
        return fetch("/api/v1/locations", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
          .then(function (d) { if (d) return put("meta", { key: "pickup-locations", data: d.locations, at: Date.now() }); });
      });
    }).catch(function (e) {
      // the session ended on the server (expired, or logged out elsewhere): the device forgets the patron
      if (e && e.message === "logged out" && sameSession(flag)) { dropPatronFlag(); return forgetPatron(); }
    });
  }

  /* ---------------- logout: the device forgets the patron (the same rules as erasePatronData in sw.js) ---------------- */
  var loggingOut = false;  // from the click on "log out": nothing of the patron is written any more
  function sameSession(flag) { return !loggingOut && !!flag && patronFlag() === flag; }
  var PATRON_STORES = ["snapshot", "records", "saved"];
  var PUBLIC_META = ["pickup-locations"];  // the library's pickup locations: no patron data

  function tellWorker(msg) {
    if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage(msg);
  }

  function eachCursor(name, fn) {
    return store(name, "readwrite", function (s) {
      s.openCursor().onsuccess = function (e) {
        var c = e.target.result;
        if (!c) return;
        fn(c);
        c.continue();
      };
    });
  }

  /* Everything the patron put on the device: snapshot, saved list, visited records, search and
   * record pages, queued actions (a queued logout stays: it ends the session once online), storage.
   * The app shell and static assets stay, so the app still opens offline. */
  function forgetPatron() {
    try { localStorage.clear(); } catch (e) { /* storage disabled */ }
    try { sessionStorage.clear(); } catch (e) { /* storage disabled */ }
    var jobs = PATRON_STORES.map(function (n) { return clear(n); });
    jobs.push(eachCursor("queue", function (c) { if (c.value.kind !== "logout") c.delete(); }));
    jobs.push(eachCursor("meta", function (c) { if (PUBLIC_META.indexOf(c.value.key) < 0) c.delete(); }));
    if (window.caches) jobs.push(caches.delete("opac-pages"));
    tellWorker({ type: "LOGOUT" });
    return Promise.all(jobs.map(function (p) { return p.catch(noop); }));
  }

  /* Offline: the device is cleared at once and the logout waits in the queue with the session's
   * logout token; sent on reconnect it ends that session and never a later patron's. */
  function logOutOffline() {
    var token = patronFlag();
    dropPatronFlag();
    tokenCache = null;
    return forgetPatron().then(function () {
      if (!token || token === "1") return;
      return put("queue", { key: "logout-" + uuid(), kind: "logout", url: "/api/v1/logout", body: { logout_token: token },
        status: "pending", created: Date.now() }).then(function () {
        tellWorker({ type: "LOGOUT_QUEUED" });
        if (window.opacSW && window.opacSW.sync) window.opacSW.sync.register("opac-queue").catch(noop);
      });
    });
  }

  function settleWithin(promise, ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); promise.then(resolve, resolve); });
  }

  /* Online: what the patron queued is sent first, then the server ends the session and the
   * device is cleared. ``form`` is the logout form (a real post); without it the API is used. */
  function logOut(form) {
    loggingOut = true;
    try { localStorage.clear(); sessionStorage.clear(); } catch (e) { /* storage disabled */ }
    if (!navigator.onLine) return logOutOffline().then(function () { location.replace("/"); });
    return settleWithin(flushQueue(), 8000).then(function () {
      if (form) {
        // the device is cleared before the post goes out; the service worker clears it too and, if
        // the server cannot be reached after all, queues the logout with the token the form carries
        var token = patronFlag();
        if (token && !form.querySelector("input[name=logout_token]")) {
          form.appendChild(el("input", { type: "hidden", name: "logout_token", value: token }));
        }
        return forgetPatron().then(function () { form.submit(); });
      }
      return csrf().then(function (csrfToken) {
        return fetch("/api/v1/logout", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken }, body: "{}" });
      }).then(function (r) {
        if (!r.ok) throw new Error("logout refused");
        tokenCache = null;
        return forgetPatron();
      }).catch(function () {
        // the server could not be reached after all: log out as if offline
        return logOutOffline();
      }).then(function () { location.replace("/"); });
    });
  }

  function initLogout() {
    $all("form[data-logout], form[action$='/logout']").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        e.preventDefault();
        $all("button", f).forEach(function (b) { b.disabled = true; });
        logOut(f);
      });
    });
    var offlineButton = $("#offline-logout");
    if (offlineButton && loggedIn()) {
      offlineButton.hidden = false;
      offlineButton.addEventListener("click", function () { offlineButton.disabled = true; logOut(null); });
    }
    var flag = patronFlag();
    Promise.all([get("meta", "patron"), all("queue")]).then(function (r) {
      var known = r[0];
      var loggedOutOffline = flag && r[1].some(function (q) { return q.kind === "logout" && q.body && q.body.logout_token === flag; });
      if (loggedOutOffline) {
        // logged out on this device while the server was out of reach: the flag goes too
        dropPatronFlag();
        return forgetPatron();
      }
      if (!flag) {
        // logged out (here, in another tab, or the session ran out): nothing of the patron stays
        return all("snapshot").then(function (snap) { if (known || snap.length) return forgetPatron(); });
      }
      if (known && known.flag === flag) return;
      // a new login on this device: whatever an earlier patron left goes first
      return (known ? forgetPatron() : Promise.resolve()).then(function () {
        return put("meta", { key: "patron", flag: flag, at: Date.now() });
      }).then(function () { if (known) return refreshSnapshot(true); });
    }).catch(noop);
  }

  /* ---------------- queued actions (renew, hold, ask) made offline ---------------- */
  var tokenCache = null;
  function csrf() {
    if (tokenCache) return Promise.resolve(tokenCache);
    return fetch("/api/v1/session", { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (d) { tokenCache = d.csrf_token; return tokenCache; });
  }

  function apiFor(form) {
    var action = form.getAttribute("action") || location.pathname;
    var kind = form.getAttribute("data-offline-action");
    var data = {};
    new FormData(form).forEach(function (v, k) { if (k !== "csrf_token") data[k] = v; });
    var m;
    if (kind === "renew" && (m = action.match(/\/account\/loans\/(\d+)\/renew/))) return { url: "/api/v1/loans/" + m[1] + "/renew", body: {} };
    if (kind === "renew-all") return { url: "/api/v1/loans/renew-all", body: {} };
    if (kind === "hold" && (m = (form.getAttribute("data-record-id") || "").match(/^(\d+)$/) || location.pathname.match(/\/record\/(\d+)\/hold/))) {
      return { url: "/api/v1/holds", body: { record_id: Number(m[1]), pickup_location_id: Number(data.pickup_location_id), not_needed_after: data.not_needed_after || null } };
    }
    if (kind === "ask") return { url: "/api/v1/ask", body: data };
    return null;
  }

  function queueAction(form) {
    var api = apiFor(form);
    if (!api) return Promise.resolve(false);
    var item = { key: uuid(), kind: form.getAttribute("data-offline-action"), url: api.url, body: api.body,
      idempotency_key: (form.querySelector("[name=idempotency_key]") || {}).value || uuid(),
      label: form.getAttribute("data-label") || doc.title, status: "pending", created: Date.now() };
    return put("queue", item).then(function () {
      if (window.opacSW && window.opacSW.sync) window.opacSW.sync.register("opac-queue").catch(function () {});
      renderQueue();
      return true;
    });
  }

  function rememberAskStamp() {
    var ts = $("form[data-offline-action=ask] input[name=ts]");
    if (ts && navigator.onLine) put("meta", { key: "ask-stamp", value: ts.value, at: Date.now() }).catch(function () {});
  }

  function initOfflineForms() {
    $all("form[data-offline-action]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (navigator.onLine) return;  // online: the normal form post
        e.preventDefault();
        queueAction(form);
      });
    });
  }

  var flushing = false;
  function flushQueue() {
    if (flushing || !navigator.onLine) return Promise.resolve();
    var run = function () {
      flushing = true;
      tokenCache = null;
      return all("queue").then(function (items) {
        // a queued logout goes first: it ends a session the next actions must not use
        items = items.filter(function (i) { return i.status === "pending" || i.status === "sending"; })
          .sort(function (a, b) { return (a.kind === "logout" ? 0 : 1) - (b.kind === "logout" ? 0 : 1) || a.created - b.created; });
        var chain = Promise.resolve();
        items.forEach(function (item) {
          chain = chain.then(function () {
            item.status = "sending";
            return put("queue", item).then(csrf).then(function (token) {
              var headers = { "Content-Type": "application/json", "X-CSRFToken": token };
              if (item.idempotency_key) headers["Idempotency-Key"] = item.idempotency_key;
              return fetch(item.url, { method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(item.body) });
            }).then(function (r) {
              if (item.kind === "logout") tokenCache = null;  // the session (and its CSRF token) may have ended
              return r.json().catch(function () { return {}; }).then(function (data) {
                if (r.status >= 500 || r.status === 400 && data.error === "csrf") { item.status = "pending"; tokenCache = null; }
                else { item.status = "done"; item.result = data; item.ok = r.ok; }
                return put("queue", item);
              });
            }).catch(function () { item.status = "pending"; return put("queue", item); });
          });
        });
        return chain;
      }).then(function () { flushing = false; renderQueue(); if (loggedIn()) refreshSnapshot(true); })
        .catch(function () { flushing = false; });
    };
    // one tab at a time sends the queue (the idempotency key makes a repeat harmless anyway)
    if (navigator.locks && navigator.locks.request) return navigator.locks.request("opac-queue", run);
    return run();
  }

  function renderQueue() {
    all("queue").then(function (items) {
      var box = $("#queue-status");
      if (!box) {
        var main = $("main");
        if (!main || !items.length) return;
        box = el("section", { id: "queue-status", "class": "queue-status", "aria-live": "polite" });
        main.insertBefore(box, main.firstChild);
      }
      box.textContent = "";
      items.sort(function (a, b) { return a.created - b.created; }).forEach(function (i) {
        var p = el("p", { "class": i.status === "done" ? (i.ok ? "flash flash-success" : "flash flash-error") : "flash",
                          "data-queue-status": i.status });
        if (i.kind === "logout") {
          if (i.status === "done") {
            p.textContent = t("logoutdone");
            setTimeout(function () { del("queue", i.key); }, 500);
          } else {
            p.appendChild(el("span", { "class": "pending-badge" }, t("pending")));
            p.appendChild(doc.createTextNode(" " + t("logoutpending")));
          }
        } else if (i.status === "done") {
          var r = i.result || {};
          var msg = i.ok ? (r.due_date ? t("renewed", { date: r.due_date }) : (r.hold ? t("held", { pos: r.hold.position, total: r.hold.queue_length }) : (r.results ? t("renewedall", { n: r.renewed }) : t("sent")))) : (r.message || t("failed"));
          p.textContent = i.label + ": " + msg;
          // shown once, then forgotten
          setTimeout(function () { del("queue", i.key); }, 500);
        } else {
          p.appendChild(el("span", { "class": "pending-badge" }, t("pending")));
          p.appendChild(doc.createTextNode(" " + i.label));
        }
        box.appendChild(p);
      });
    }).catch(function () {});
  }

  /* ---------------- the offline page: snapshot, local search, what is on the device ---------------- */
  function fmtTime(ms) { try { return new Date(ms).toLocaleString(doc.documentElement.lang || "id"); } catch (e) { return String(new Date(ms)); } }

  function renderOffline() {
    var app = $("#offline-app");
    if (!app) return;
    var view = $("#offline-view");
    var path = location.pathname;
    function tt(name, vars) {
      var s = app.getAttribute("data-t-" + name) || name;
      Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(vars[k]); });
      return s;
    }
    function showSnapshot(kind) {
      return get("snapshot", kind).then(function (snap) {
        view.textContent = "";
        if (!snap) { view.appendChild(el("p", {}, tt("login"))); return; }
        view.appendChild(el("h2", {}, tt(kind)));
        view.appendChild(el("p", { "class": "stale-note" }, tt("asof", { time: fmtTime(snap.at) })));
        var ul = el("ul", { "class": "cards", "data-snapshot": kind });
        if (kind === "loans") {
          (snap.data.loans || []).forEach(function (l) {
            var li = el("li", { "class": "card loan" });
            li.appendChild(el("h3", {}, l.title));
            li.appendChild(el("p", { "class": "status-line" + (l.overdue ? " bad" : "") }, tt("due", { date: l.due_date })));
            ul.appendChild(li);
          });
        } else if (kind === "holds") {
          (snap.data.holds || []).forEach(function (h) {
            var li = el("li", { "class": "card" });
            li.appendChild(el("h3", {}, h.title));
            li.appendChild(el("p", {}, h.status === "ready" ? tt("ready") : tt("position", { pos: h.position, total: h.queue_length })));
            ul.appendChild(li);
          });
        } else if (kind === "card") {
          var card = el("div", { "class": "library-card", id: "library-card" });
          card.appendChild(el("p", { "class": "card-name" }, snap.data.name));
          var holder = el("div", { "class": "barcode" });
          holder.innerHTML = snap.data.barcode_svg;  // our own server-made SVG (no user markup)
          card.appendChild(holder);
          card.appendChild(el("p", {}, snap.data.card_number));
          var qr = el("div", { "class": "qr" });
          qr.innerHTML = snap.data.qr_svg;
          card.appendChild(qr);
          view.appendChild(card);
          var fs = el("button", { type: "button", "class": "btn btn-primary", "data-fullscreen": "library-card" }, t("fullscreen"));
          view.appendChild(fs);
          initFullscreen();
          return;
        }
        view.appendChild(ul);
      });
    }
    function localSearch() {
      var q = new URLSearchParams(location.search).get("q") || "";
      var words = q.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").split(/[^\p{L}\p{N}]+/u).filter(Boolean);
      return Promise.all([all("records"), all("saved")]).then(function (r) {
        var byId = {};
        r[0].concat(r[1].filter(function (s) { return !s.removed; })).forEach(function (x) { byId[x.key] = x; });
        var recs = Object.keys(byId).map(function (k) { return byId[k]; });
        var hits = recs.filter(function (x) {
          var hay = [x.title, x.author, x.year].join(" ").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
          return words.every(function (w) { return hay.indexOf(w) >= 0; });
        });
        view.textContent = "";
        view.appendChild(el("p", { "class": "notice" }, tt("search", { n: recs.length })));
        if (!hits.length) { view.appendChild(el("p", {}, tt("nohits"))); return; }
        var ul = el("ul", { "class": "cards", id: "offline-hits" });
        hits.forEach(function (h) {
          var li = el("li", { "class": "card" });
          li.appendChild(el("a", { href: h.url }, h.title));
          if (h.author) li.appendChild(el("p", {}, h.author));
          ul.appendChild(li);
        });
        view.appendChild(ul);
      });
    }
    function offlineForm(kind, build) {
      view.textContent = "";
      var form = el("form", { "class": "stack", "data-offline-action": kind });
      build(form);
      var b = el("button", { type: "submit", "class": "btn btn-primary" }, tt("queue"));
      form.appendChild(b);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        queueAction(form).then(function () { b.disabled = true; });
      });
      view.appendChild(form);
    }
    function field(form, label, input) {
      var id = "f-" + input.getAttribute("name");
      input.id = id;
      var d = el("div", {});
      d.appendChild(el("label", { "for": id }, label));
      d.appendChild(input);
      form.appendChild(d);
    }
    function holdForm(recordId) {
      return Promise.all([get("meta", "pickup-locations"), get("records", String(recordId))]).then(function (r) {
        if (!r[0]) { view.textContent = ""; view.appendChild(el("p", {}, tt("needonline"))); return; }
        var title = r[1] ? r[1].title : "#" + recordId;
        offlineForm("hold", function (form) {
          form.setAttribute("data-label", tt("holdtitle") + ": " + title);
          form.setAttribute("data-record-id", String(recordId));
          form.appendChild(el("h2", {}, tt("holdtitle") + ": " + title));
          var sel = el("select", { name: "pickup_location_id", required: "required" });
          r[0].data.forEach(function (l) { sel.appendChild(el("option", { value: String(l.id) }, l.name)); });
          field(form, tt("pickup"), sel);
          field(form, tt("nna"), el("input", { type: "date", name: "not_needed_after" }));
          form.appendChild(el("input", { type: "hidden", name: "idempotency_key", value: uuid() }));
        });
      });
    }
    function askForm() {
      return get("meta", "ask-stamp").then(function (stamp) {
        if (!stamp) { view.textContent = ""; view.appendChild(el("p", {}, tt("needonline"))); return; }
        offlineForm("ask", function (form) {
          form.setAttribute("data-label", tt("asktitle"));
          form.appendChild(el("h2", {}, tt("asktitle")));
          field(form, tt("question"), el("textarea", { name: "question", required: "required", minlength: "10", maxlength: "4000" }));
          field(form, tt("email"), el("input", { type: "email", name: "email" }));
          form.appendChild(el("input", { type: "hidden", name: "ts", value: stamp.value }));
          form.appendChild(el("input", { type: "hidden", name: "channel", value: "app" }));
          form.appendChild(el("input", { type: "hidden", name: "category", value: "other" }));
          form.appendChild(el("input", { type: "hidden", name: "idempotency_key", value: uuid() }));
        });
      });
    }
    var job = Promise.resolve();
    var holdMatch = path.match(/^\/record\/(\d+)\/hold/);
    if (holdMatch) job = holdForm(Number(holdMatch[1]));
    else if (path === "/ask") job = askForm();
    else if (/^\/account\/loans/.test(path)) job = showSnapshot("loans");
    else if (/^\/account\/holds/.test(path)) job = showSnapshot("holds");
    else if (/^\/card/.test(path)) job = showSnapshot("card");
    else if (path === "/search") job = localSearch();
    job.catch(function () {});
    // what is available on this device
    var list = $("#offline-list");
    Promise.all([all("records").catch(function () { return []; }), all("saved").catch(function () { return []; }),
                 all("snapshot").catch(function () { return []; })]).then(function (r) {
      list.textContent = "";
      r[2].forEach(function (s) {
        var href = s.key === "card" ? "/card" : "/account/" + s.key;
        var li = el("li", { "class": "card" });
        li.appendChild(el("a", { href: href }, tt(s.key)));
        li.appendChild(el("span", { "class": "muted" }, " · " + fmtTime(s.at)));
        list.appendChild(li);
      });
      var saved = r[1].filter(function (s) { return !s.removed; });
      if (saved.length) {
        var li = el("li", { "class": "card" });
        li.appendChild(el("a", { href: "/saved" }, t("savedlist") + " (" + saved.length + ")"));
        list.appendChild(li);
      }
      r[0].sort(function (a, b) { return b.at - a.at; }).slice(0, 50).forEach(function (x) {
        var li = el("li", { "class": "card" });
        li.appendChild(el("a", { href: x.url }, x.title));
        list.appendChild(li);
      });
      if (!list.children.length) list.appendChild(el("li", {}, tt("none")));
    });
  }

  /* ---------------- library card full screen, scanner, push opt-in ---------------- */
  function initFullscreen() {
    $all("[data-fullscreen]").forEach(function (b) {
      var target = doc.getElementById(b.getAttribute("data-fullscreen"));
      if (!target) return;
      b.hidden = false;
      b.onclick = function () {
        if (target.requestFullscreen) target.requestFullscreen().catch(function () { target.classList.toggle("fullscreen-card"); });
        else target.classList.toggle("fullscreen-card");
        if (navigator.wakeLock) navigator.wakeLock.request("screen").catch(function () {});
      };
    });
  }

  function initScanLink() {
    var link = $("[data-scan]");
    if (link && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) { link.hidden = false; link.href = "/scan"; }
  }

  function initScanner() {
    var box = $("#scanner");
    if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("ean_13") < 0) return;
      var wanted = ["ean_13", "ean_8", "upc_a", "code_128"];
      if (formats.indexOf("qr_code") >= 0) wanted.push("qr_code");  /* the entrance check-in code */
      var detector = new window.BarcodeDetector({ formats: wanted });
      box.hidden = false;
      var video = $("#scan-video");
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.play();
        var timer = setInterval(function () {
          detector.detect(video).then(function (codes) {
            var values = codes.map(function (c) { return c.rawValue; });
            var visit = values.filter(function (v) { return v.indexOf(location.origin + "/visit?code=") === 0; })[0];
            if (visit) {  /* this library's entrance QR: open its check-in page (the patron confirms there) */
              clearInterval(timer);
              stream.getTracks().forEach(function (tr) { tr.stop(); });
              location.href = visit;
              return;
            }
            var code = values.filter(function (v) { return /^97[89]\d{10}$|^\d{9}[\dX]$/.test(v); })[0];
            if (code) {
              clearInterval(timer);
              stream.getTracks().forEach(function (tr) { tr.stop(); });
              location.href = "/scan?isbn=" + encodeURIComponent(code);
            }
          }).catch(function () {});
        }, 300);
      }).catch(function () { box.hidden = true; });
    }).catch(function () {});
  }

  function initPush() {
    var btn = $("#push-optin");
    if (!btn || !("PushManager" in window) || !navigator.serviceWorker) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var key;
      var subscribe = function () {
        return navigator.serviceWorker.ready.then(function (reg) {
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        });
      };
      var send = function (sub) {
        return csrf().then(function (token) {
          return fetch("/api/v1/push/subscribe", { method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": token }, body: JSON.stringify(sub) });
        });
      };
      fetch("/api/v1/push/key").then(function (r) { return r.ok ? r.json() : Promise.reject(); }).then(function (k) {
        key = Uint8Array.from(atob(k.public_key.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - k.public_key.length % 4) % 4)), function (c) { return c.charCodeAt(0); });
        return subscribe();
      }).then(function (sub) {
        return send(sub).then(function (r) {
          if (r.status !== 409) return r;
          // this browser's subscription is another patron's (409): replace it with a new one of our own
          return sub.unsubscribe().then(subscribe).then(send);
        });
      }).then(function (r) {
        if (!r.ok) return Promise.reject();
        btn.textContent = t("pushon"); btn.disabled = true;
      }).catch(function () { btn.textContent = t("pushfail"); });
    });
  }

  /* ---------------- suggestions as you type (ARIA combobox) ---------------- */
  function initSuggest() {
    var input = $("input[data-suggest]");
    var list = $("#suggestions");
    if (!input || !list) return;
    var url = input.getAttribute("data-suggest");
    var timer = null, active = -1, items = [], seq = 0;
    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; input.removeAttribute("aria-activedescendant"); }
    function render(suggestions) {
      list.textContent = "";
      items = suggestions;
      suggestions.forEach(function (s, i) {
        var li = el("li", { id: "sugg-" + i, role: "option", "aria-selected": "false" });
        li.appendChild(el("span", {}, s.label));
        li.appendChild(el("span", { "class": "kind" }, t("kind_" + s.type)));
        li.addEventListener("mousedown", function (e) { e.preventDefault(); location.href = s.url; });
        list.appendChild(li);
      });
      var open = suggestions.length > 0;
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
    }
    function highlight(i) {
      $all("li", list).forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (i >= 0) input.setAttribute("aria-activedescendant", "sugg-" + i); else input.removeAttribute("aria-activedescendant");
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value;
      if (q.trim().length < 2 || !navigator.onLine) { close(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (data) { if (mine === seq) render(data.suggestions || []); })
          .catch(close);
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(Math.max(active - 1, -1)); }
      else if (e.key === "Escape") { close(); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); location.href = items[active].url; }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  /* ---------------- share, copy, sort ---------------- */
  function initShare() {
    var share = $("[data-share]");
    if (share && navigator.share) {
      share.hidden = false;
      share.addEventListener("click", function () { navigator.share({ title: doc.title, url: location.href }).catch(function () {}); });
    }
    $all("[data-copy]").forEach(function (btn) {
      if (!navigator.clipboard) return;
      btn.hidden = false;
      btn.addEventListener("click", function () {
        navigator.clipboard.writeText(btn.getAttribute("data-copy")).then(function () { btn.textContent = t("copied"); });
      });
    });
    $all("select[data-autosubmit]").forEach(function (sel) {
      var apply = sel.form && $(".sort-apply", sel.form);
      if (apply) apply.hidden = true;
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  }

  /* ---------------- ask a librarian: FAQ answers and records while typing ---------------- */
  function initAskSuggest() {
    var box = $("#ask-suggestions");
    var input = $("textarea[data-ask-suggest]");
    if (!box || !input) return;
    var url = input.getAttribute("data-ask-suggest");
    var timer = null, seq = 0;
    function render(data) {
      box.textContent = "";
      if (data.faqs.length) {
        box.appendChild(el("h2", { "class": "h3" }, box.getAttribute("data-t-faq")));
        data.faqs.forEach(function (f) {
          var d = el("details", { "class": "card faq-entry" });
          d.appendChild(el("summary", {}, f.question));
          var ans = el("div", { "class": "rich" });
          ans.innerHTML = f.answer;  // sanitised on the server with an allowlist
          d.appendChild(ans);
          var b = el("button", { type: "button", "class": "btn btn-small", "data-helpful": f.id }, box.getAttribute("data-t-helpful"));
          b.addEventListener("click", function () {
            csrf().then(function (token) {
              return fetch("/faq/" + f.id + "/helpful", { method: "POST", credentials: "same-origin",
                headers: { "X-CSRFToken": token, "Content-Type": "application/json", Accept: "application/json" }, body: "{}" });
            }).then(function () { b.textContent = box.getAttribute("data-t-thanks"); b.disabled = true; });
          });
          d.appendChild(b);
          box.appendChild(d);
        });
      }
      if (data.records.length) {
        box.appendChild(el("h2", { "class": "h3" }, box.getAttribute("data-t-records")));
        var ul = el("ul", {});
        data.records.forEach(function (r) {
          var li = el("li", {});
          li.appendChild(el("a", { href: r.url }, r.title));
          ul.appendChild(li);
        });
        box.appendChild(ul);
      }
      box.hidden = !(data.faqs.length || data.records.length);
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      if (input.value.trim().length < 8 || !navigator.onLine) return;
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(url + "?q=" + encodeURIComponent(input.value), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); }).then(function (d) { if (mine === seq) render(d); }).catch(function () {});
      }, 300);
    });
  }

  initServiceWorker();
  initAskSuggest();
  initSuggest();
  initShare();
  initInstall();
  initRecordPage();
  initLogout();
  initOfflineForms();
  rememberAskStamp();
  initOnlineState();
  renderSaved();
  renderOffline();
  renderQueue();
  initFullscreen();
  initScanLink();
  initScanner();
  initPush();
  if (loggedIn()) refreshSnapshot(false);
})();
