/* The action queue: renewals, holds, questions (and logouts) made offline wait on the device and
 * are sent once online, each exactly once (an idempotency key makes a repeat harmless). The pure
 * parts (which API an action calls, in what order the queue goes out, what an answer means) are
 * exported for the tests and the service worker. */

import { all, del, put } from "./store.js";

/* The API call for an action made with a form: ``kind`` (renew, renew-all, hold, ask), the form's
 * ``action`` path, its fields, and the record id of a hold form. Null for anything else. */
export function apiFor(kind, action, data, recordId) {
  let m;
  if (kind === "renew" && (m = String(action || "").match(/\/account\/loans\/(\d+)\/renew/))) {
    return { url: "/api/v1/loans/" + m[1] + "/renew", body: {} };
  }
  if (kind === "renew-all") return { url: "/api/v1/loans/renew-all", body: {} };
  if (kind === "hold" && (m = String(recordId || "").match(/^(\d+)$/) || String(action || "").match(/\/record\/(\d+)\/hold/))) {
    return { url: "/api/v1/holds", body: { record_id: Number(m[1]), pickup_location_id: Number(data.pickup_location_id),
      not_needed_after: data.not_needed_after || null } };
  }
  if (kind === "ask") return { url: "/api/v1/ask", body: data };
  return null;
}

export function queueItem(key, kind, api, idempotencyKey, label, now) {
  return { key, kind, url: api.url, body: api.body, idempotency_key: idempotencyKey, label, status: "pending", created: now };
}

export function logoutItem(key, token, now) {
  return { key: "logout-" + key, kind: "logout", url: "/api/v1/logout", body: { logout_token: token }, status: "pending", created: now };
}

/* What still has to go out, in order: a queued logout first (it ends a session the next actions
 * must not use), then oldest first. */
export function sendOrder(items) {
  return items.filter((i) => i.status === "pending" || i.status === "sending")
    .sort((a, b) => (a.kind === "logout" ? 0 : 1) - (b.kind === "logout" ? 0 : 1) || a.created - b.created);
}

/* An item after the server answered ``status`` with ``data``: sent again later on a server error
 * or a stale CSRF token, otherwise done (successfully or not). */
export function afterAnswer(item, status, data) {
  if (status >= 500 || (status === 400 && data && data.error === "csrf")) return Object.assign({}, item, { status: "pending" });
  return Object.assign({}, item, { status: "done", result: data, ok: status >= 200 && status < 300 });
}

/* The line shown for a finished item; ``t`` gives the texts, ``date`` formats a date. */
export function doneMessage(item, t, date) {
  const r = item.result || {};
  if (!item.ok) return r.message || t("failed");
  if (r.due_date) return t("renewed", { date: date(r.due_date) });
  if (r.hold) return t("held", { pos: r.hold.position, total: r.hold.queue_length });
  if (r.results) return t("renewedall", { n: r.renewed });
  return t("sent");
}

/* Whether ``items`` hold a renewal of loan ``loanId`` still waiting to be sent. */
export function renewalPending(items, loanId) {
  const url = "/api/v1/loans/" + loanId + "/renew";
  return items.some((i) => i.url === url && i.status !== "done");
}

export const queued = () => all("queue");
export const enqueue = (item) => put("queue", item);
export const dropItem = (key) => del("queue", key);
