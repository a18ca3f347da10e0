/* Visited records and the saved list: kept on the device, merged into the account when logged in. */

import { $, el, noop, t, uuid } from "./page.js";
import { isLoggingOut, loggedIn, patronFlag, postJSON, sameSession } from "./session.js";
import { all, get, put, transact } from "./store.js";

function recordFromPage() {
  const art = $("article.record[data-record-id]");
  if (!art) return null;
  const id = art.getAttribute("data-record-id");
  return { key: String(id), id: Number(id), title: art.getAttribute("data-record-title"),
    author: art.getAttribute("data-record-author"), year: art.getAttribute("data-record-year"),
    url: location.pathname, at: Date.now() };
}

/* The device's changes to send: ids to add and to remove. A changed item's ``dirty`` names
 * that change (a new value each time), so a sync can tell it from a later one. */
export function pendingChanges(items) {
  return { add: items.filter((i) => i.dirty && !i.removed).map((i) => i.id),
    remove: items.filter((i) => i.dirty && i.removed).map((i) => i.id) };
}

/* The list to keep after a sync: the account's list as the server answered (``saved``), except the
 * items changed on the device after the sync read ``sent`` (the items as they were sent): those
 * stay as they are, for the next sync to send. */
export function mergeSaved(local, saved, sent) {
  const sentChange = new Map(sent.map((i) => [i.key, i.dirty]));
  const kept = local.filter((i) => i.dirty && sentChange.get(i.key) !== i.dirty);
  const keptKeys = new Set(kept.map((i) => i.key));
  return saved.map((s) => ({ key: String(s.id), id: s.id, title: s.title, author: s.author, year: s.year, url: s.url,
    removed: false, dirty: false })).filter((i) => !keptKeys.has(i.key)).concat(kept);
}

export function initRecordPage() {
  const rec = recordFromPage();
  if (!rec) return;
  put("records", rec).catch(noop);
  const btn = $("[data-save-record]");
  if (!btn) return;
  btn.hidden = false;
  const label = (saved) => { btn.textContent = saved ? t("saved") : t("save"); btn.setAttribute("aria-pressed", saved ? "true" : "false"); };
  get("saved", rec.key).then((s) => label(!!s && !s.removed)).catch(noop);
  btn.addEventListener("click", () => {
    get("saved", rec.key).then((s) => {
      const saved = !!s && !s.removed;
      return put("saved", Object.assign({}, rec, { removed: saved, dirty: uuid() })).then(() => { label(!saved); syncSaved(); });
    });
  });
}

/* One sync at a time (every page starts one, and so does each change): one asked for while
 * another is under way runs after it, with what changed meanwhile. */
let syncing = null;
let syncAgain = false;

export function syncSaved() {
  if (syncing) {
    syncAgain = true;
    return syncing;
  }
  syncing = syncOnce().then(() => {
    syncing = null;
    if (syncAgain) {
      syncAgain = false;
      return syncSaved();
    }
  });
  return syncing;
}

function syncOnce() {
  if (!loggedIn() || !navigator.onLine || isLoggingOut()) return Promise.resolve();
  const flag = patronFlag();
  let sent = [];
  return all("saved").then((items) => {
    sent = items;
    return postJSON("/api/v1/saved/sync", pendingChanges(items));
  }).then((r) => (r.ok ? r.json() : null)).then((data) => {
    if (!data || !sameSession(flag)) return;  // never write after a logout made meanwhile
    // read and replaced in one transaction: a change made meanwhile is neither lost nor half-applied
    return transact("saved", "readwrite", (s) => {
      s.getAll().onsuccess = (e) => {
        s.clear();
        mergeSaved(e.target.result, data.saved, sent).forEach((i) => s.put(i));
      };
    }).then(renderSaved);
  }).catch(noop);
}

export function renderSaved() {
  const list = $("#saved-list");
  if (!list) return;
  all("saved").then((items) => {
    items = items.filter((i) => !i.removed);
    list.textContent = "";
    if (!items.length) { list.appendChild(el("li", {}, list.getAttribute("data-t-empty"))); return; }
    items.forEach((i) => {
      const li = el("li", { "class": "card" });
      li.appendChild(el("h2", { "class": "h3" })).appendChild(el("a", { href: i.url }, i.title));
      if (i.author || i.year) li.appendChild(el("p", {}, [i.author, i.year].filter(Boolean).join(" · ")));
      const b = el("button", { type: "button", "class": "btn btn-small" }, list.getAttribute("data-t-remove"));
      b.addEventListener("click", () => {
        put("saved", Object.assign({}, i, { removed: true, dirty: uuid() })).then(() => { renderSaved(); syncSaved(); });
      });
      li.appendChild(b);
      list.appendChild(li);
    });
  }).catch(noop);
}
