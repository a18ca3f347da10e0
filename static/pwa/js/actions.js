/* The page's side of the action queue: forms made offline are queued, the queue is sent once
 * online (one tab at a time), and what happened is shown at the top of the page. */

import { $, $all, el, noop, showDate, t, uuid } from "./page.js";
import { afterAnswer, apiFor, doneMessage, dropItem, enqueue, queueItem, queued, sendOrder } from "./queue.js";
import { csrf, forgetCsrf, loggedIn } from "./session.js";
import { refreshSnapshot } from "./snapshot.js";
import { put } from "./store.js";
import { registerSync } from "./worker.js";

function formData(form) {
  const data = {};
  new FormData(form).forEach((v, k) => { if (k !== "csrf_token") data[k] = v; });
  return data;
}

export function queueAction(form) {
  const kind = form.getAttribute("data-offline-action");
  const api = apiFor(kind, form.getAttribute("action") || location.pathname, formData(form), form.getAttribute("data-record-id"));
  if (!api) return Promise.resolve(false);
  const idem = (form.querySelector("[name=idempotency_key]") || {}).value || uuid();
  return enqueue(queueItem(uuid(), kind, api, idem, form.getAttribute("data-label") || document.title, Date.now())).then(() => {
    registerSync();
    renderQueue();
    return true;
  });
}

/* Online a form posts as usual; offline it is queued. */
export function offlineSubmit(form, after) {
  form.addEventListener("submit", (e) => {
    if (navigator.onLine && !form.hasAttribute("data-offline-only")) return;
    e.preventDefault();
    queueAction(form).then(after || noop);
  });
}

export function initOfflineForms() {
  $all("form[data-offline-action]").forEach((form) => offlineSubmit(form));
}

/* The ask form's stamp, kept so a question can be asked offline. */
export function rememberAskStamp() {
  const ts = $("form[data-offline-action=ask] input[name=ts]");
  if (ts && navigator.onLine) put("meta", { key: "ask-stamp", value: ts.value, at: Date.now() }).catch(noop);
}

let flushing = false;
export function flushQueue() {
  if (flushing || !navigator.onLine) return Promise.resolve();
  const send = (item) => enqueue(Object.assign(item, { status: "sending" })).then(csrf).then((token) => {
    const headers = { "Content-Type": "application/json", "X-CSRFToken": token };
    if (item.idempotency_key) headers["Idempotency-Key"] = item.idempotency_key;
    return fetch(item.url, { method: "POST", credentials: "same-origin", headers, body: JSON.stringify(item.body) });
  }).then((r) => {
    if (item.kind === "logout") forgetCsrf();  // the session (and its CSRF token) may have ended
    return r.json().catch(() => ({})).then((data) => {
      const next = afterAnswer(item, r.status, data);
      if (next.status === "pending") forgetCsrf();
      return enqueue(next);
    });
  }).catch(() => enqueue(Object.assign(item, { status: "pending" })));
  const run = () => {
    flushing = true;
    forgetCsrf();
    return queued().then((items) => sendOrder(items).reduce((chain, item) => chain.then(() => send(item)), Promise.resolve()))
      .then(() => { flushing = false; renderQueue(); if (loggedIn()) refreshSnapshot(true); })
      .catch(() => { flushing = false; });
  };
  // one tab at a time sends the queue (the idempotency key makes a repeat harmless anyway)
  if (navigator.locks && navigator.locks.request) return navigator.locks.request("opac-queue", run);
  return run();
}

export function renderQueue() {
  return queued().then((items) => {
    let box = $("#queue-status");
    if (!box) {
      const main = $("main");
      if (!main || !items.length) return;
      box = el("section", { id: "queue-status", "class": "queue-status", "aria-live": "polite" });
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = "";
    items.sort((a, b) => a.created - b.created).forEach((i) => {
      const p = el("p", { "class": i.status === "done" ? (i.ok ? "flash flash-success" : "flash flash-error") : "flash",
        "data-queue-status": i.status });
      const done = i.status === "done";
      if (done) {
        p.textContent = i.kind === "logout" ? t("logoutdone") : i.label + ": " + doneMessage(i, t, showDate);
        setTimeout(() => dropItem(i.key), 500);  // shown once, then forgotten
      } else {
        p.appendChild(el("span", { "class": "pending-badge" }, t("pending")));
        p.appendChild(document.createTextNode(" " + (i.kind === "logout" ? t("logoutpending") : i.label)));
      }
      box.appendChild(p);
    });
  }).catch(noop);
}
