// The action queue's pure parts: which API an action calls, the order it goes out, what an answer means.
import assert from "node:assert/strict";
import { test } from "node:test";

import { afterAnswer, apiFor, doneMessage, logoutItem, queueItem, renewalPending, sendOrder } from "../../static/pwa/js/queue.js";

test("each offline form maps to its API call", () => {
  assert.deepEqual(apiFor("renew", "/account/loans/42/renew", {}), { url: "/api/v1/loans/42/renew", body: {} });
  assert.deepEqual(apiFor("renew-all", "/account/loans/renew-all", {}), { url: "/api/v1/loans/renew-all", body: {} });
  assert.deepEqual(apiFor("hold", "/record/7/hold", { pickup_location_id: "3", not_needed_after: "" }),
    { url: "/api/v1/holds", body: { record_id: 7, pickup_location_id: 3, not_needed_after: null } });
  assert.deepEqual(apiFor("hold", "/offline", { pickup_location_id: "3", not_needed_after: "2026-12-01" }, "9").body,
    { record_id: 9, pickup_location_id: 3, not_needed_after: "2026-12-01" });
  const ask = { question: "Ada buku ini?", category: "finding", ts: "x" };
  assert.deepEqual(apiFor("ask", "/ask", ask), { url: "/api/v1/ask", body: ask });
});

test("nothing else is queued", () => {
  assert.equal(apiFor("renew", "/account/loans/abc/renew", {}), null);
  assert.equal(apiFor("hold", "/search", {}, "x"), null);
  assert.equal(apiFor("delete-everything", "/", {}), null);
});

test("a queued logout goes out first, then the oldest; finished items stay out", () => {
  const items = [
    queueItem("a", "renew", { url: "/r", body: {} }, "k1", "A", 30),
    queueItem("b", "ask", { url: "/q", body: {} }, "k2", "B", 10),
    logoutItem("c", "tok", 50),
    Object.assign(queueItem("d", "hold", { url: "/h", body: {} }, "k3", "D", 5), { status: "done" }),
    Object.assign(queueItem("e", "hold", { url: "/h", body: {} }, "k4", "E", 20), { status: "sending" }),
  ];
  assert.deepEqual(sendOrder(items).map((i) => i.key), ["logout-c", "b", "e", "a"]);
});

test("server errors and stale CSRF tokens are tried again; anything else is done", () => {
  const item = queueItem("a", "renew", { url: "/r", body: {} }, "k", "A", 1);
  assert.equal(afterAnswer(item, 503, {}).status, "pending");
  assert.equal(afterAnswer(item, 400, { error: "csrf" }).status, "pending");
  const refused = afterAnswer(item, 409, { error: "renewal_limit", message: "No more renewals" });
  assert.equal(refused.status, "done");
  assert.equal(refused.ok, false);
  const ok = afterAnswer(item, 200, { due_date: "2026-12-28" });
  assert.equal(ok.ok, true);
  assert.equal(item.status, "pending");  // the original is left as it was
});

test("what a finished item says", () => {
  const t = (k, v) => k + JSON.stringify(v || {});
  const date = (d) => "D(" + d + ")";
  assert.equal(doneMessage({ ok: true, result: { due_date: "2026-12-28" } }, t, date), 'renewed{"date":"D(2026-12-28)"}');
  assert.equal(doneMessage({ ok: true, result: { hold: { position: 2, queue_length: 3 } } }, t, date), 'held{"pos":2,"total":3}');
  assert.equal(doneMessage({ ok: true, result: { results: [], renewed: 2 } }, t, date), 'renewedall{"n":2}');
  assert.equal(doneMessage({ ok: true, result: {} }, t, date), "sent{}");
  assert.equal(doneMessage({ ok: false, result: { message: "No" } }, t, date), "No");
  assert.equal(doneMessage({ ok: false }, t, date), "failed{}");
});

test("a renewal waiting for a loan is known (the snapshot's button says so)", () => {
  const items = [queueItem("a", "renew", apiFor("renew", "/account/loans/5/renew", {}), "k", "A", 1)];
  assert.equal(renewalPending(items, 5), true);
  assert.equal(renewalPending(items, 6), false);
  assert.equal(renewalPending([Object.assign({}, items[0], { status: "done" })], 5), false);
});
