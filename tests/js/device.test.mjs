// Pure rules of the device: what a logout keeps, the offline search, scanned ISBNs, the
// suggestion list's keys, the saved list's changes, the push key, the offline page's views.
import assert from "node:assert/strict";
import { test } from "node:test";

import { PATRON_STORES, PUBLIC_META, keptOnLogout } from "../../static/pwa/js/erase.js";
import { searchDevice, words } from "../../static/pwa/js/localsearch.js";
import { offlineView } from "../../static/pwa/js/offline.js";
import { keyBytes } from "../../static/pwa/js/push.js";
import { mergeSaved, pendingChanges } from "../../static/pwa/js/saved.js";
import { isbnFrom, visitFrom } from "../../static/pwa/js/scanner.js";
import { isFresh, MAX_AGE_MS } from "../../static/pwa/js/snapshot.js";
import { STORES } from "../../static/pwa/js/store.js";
import { moveHighlight } from "../../static/pwa/js/suggest.js";

test("a logout keeps only queued logouts, the pickup locations and the app's own stores", () => {
  for (const store of PATRON_STORES) assert.equal(keptOnLogout(store, { key: "x" }), false);
  assert.equal(keptOnLogout("queue", { kind: "logout" }), true);
  for (const kind of ["renew", "hold", "ask"]) assert.equal(keptOnLogout("queue", { kind }), false);
  assert.equal(keptOnLogout("meta", { key: "pickup-locations" }), true);
  for (const key of ["patron", "snapshot-at", "ask-stamp"]) assert.equal(keptOnLogout("meta", { key }), false);
  assert.deepEqual(PUBLIC_META, ["pickup-locations"]);
  assert.ok(PATRON_STORES.every((s) => STORES.includes(s)));
});

test("offline search: every word, accents folded, each record once, removed saves left out", () => {
  const records = [{ key: "1", title: "Laskar Pelangi", author: "Hirata, Andrea", year: "2005" },
    { key: "2", title: "Bumi Manusia", author: "Toer", year: "1980" }];
  const saved = [{ key: "1", title: "Laskar Pelangi", author: "Hirata, Andrea", year: "2005" },
    { key: "3", title: "Café Société", author: "", year: "" }, { key: "4", title: "Gone", removed: true }];
  assert.deepEqual(words("  Laskar,  PELANGI! "), ["laskar", "pelangi"]);
  let r = searchDevice(records, saved, "pelangi hirata");
  assert.equal(r.searched, 3);
  assert.deepEqual(r.hits.map((h) => h.key), ["1"]);
  assert.deepEqual(searchDevice(records, saved, "cafe societe").hits.map((h) => h.key), ["3"]);
  assert.deepEqual(searchDevice(records, saved, "gone").hits, []);
  r = searchDevice(records, saved, "");
  assert.equal(r.hits.length, 3);
});

test("the scanner takes the first ISBN among the codes", () => {
  assert.equal(isbnFrom(["12345", "9789793062792", "9780000000002"]), "9789793062792");
  assert.equal(isbnFrom(["979306279X"]), "979306279X");
  assert.equal(isbnFrom(["5901234123457"]), undefined);  // an EAN, not a book
  const origin = "https://opac.example.ac.id";
  assert.equal(visitFrom(["9789793062792", origin + "/visit?code=ab12"], origin), origin + "/visit?code=ab12");
  assert.equal(visitFrom(["https://evil.example/visit?code=ab12", origin + "/record/1"], origin), undefined);
});

test("arrow keys move through the suggestions and back to the input", () => {
  assert.equal(moveHighlight(-1, "ArrowDown", 3), 0);
  assert.equal(moveHighlight(2, "ArrowDown", 3), 2);
  assert.equal(moveHighlight(0, "ArrowUp", 3), -1);
  assert.equal(moveHighlight(-1, "ArrowUp", 3), -1);
  assert.equal(moveHighlight(1, "Tab", 3), 1);
});

test("the saved list sends only what changed on the device", () => {
  const items = [{ id: 1, dirty: true, removed: false }, { id: 2, dirty: true, removed: true }, { id: 3, dirty: false, removed: false }];
  assert.deepEqual(pendingChanges(items), { add: [1], remove: [2] });
});

test("a sync's answer replaces the list, except what changed on the device after the sync read it", () => {
  const book = (id, more) => Object.assign({ key: String(id), id, title: "T" + id, url: "/record/" + id }, more);
  // sent: 1 saved (change "a"); the server answered with 1 and 2 (saved on another device)
  const sent = [book(1, { dirty: "a", removed: false })];
  const answer = [book(1), book(2)];
  // meanwhile on the device: 3 saved (change "b"), 2 removed (change "c"); 1 untouched since it was sent
  const local = [book(1, { dirty: "a", removed: false }), book(3, { dirty: "b", removed: false }),
    book(2, { dirty: "c", removed: true })];
  const merged = mergeSaved(local, answer, sent);
  assert.deepEqual(merged.map((i) => [i.key, i.dirty, i.removed]),
    [["1", false, false], ["3", "b", false], ["2", "c", true]]);
  assert.deepEqual(pendingChanges(merged), { add: [3], remove: [2] });  // what the next sync sends
  // a change made to 1 after it was sent stays too (unsaved again: "d")
  assert.deepEqual(mergeSaved([book(1, { dirty: "d", removed: true })], answer, sent).map((i) => [i.key, i.dirty]),
    [["2", false], ["1", "d"]]);
  // an answer that comes before anything changed: the server's list as it is
  assert.deepEqual(mergeSaved(sent, [book(1)], sent).map((i) => [i.key, i.dirty]), [["1", false]]);
});

test("the push key is decoded from base64url", () => {
  assert.deepEqual(Array.from(keyBytes("AQID_-8")), [1, 2, 3, 255, 239]);
});

test("the snapshot is refreshed after five minutes", () => {
  assert.equal(isFresh({ at: 1000 }, 1000 + MAX_AGE_MS - 1), true);
  assert.equal(isFresh({ at: 1000 }, 1000 + MAX_AGE_MS), false);
  assert.equal(isFresh(undefined, 0), false);
});

test("the offline page shows what the path asked for", () => {
  assert.deepEqual(offlineView("/record/12/hold"), ["hold", 12]);
  assert.deepEqual(offlineView("/ask"), ["ask"]);
  assert.deepEqual(offlineView("/account/loans"), ["snapshot", "loans"]);
  assert.deepEqual(offlineView("/account/holds"), ["snapshot", "holds"]);
  assert.deepEqual(offlineView("/card"), ["snapshot", "card"]);
  assert.deepEqual(offlineView("/search"), ["search"]);
  assert.deepEqual(offlineView("/record/12"), ["none"]);
});

test("the answers badge says how many answers are new, in the page's words", async () => {
  const { badgeText } = await import("../../static/pwa/js/answers.js");
  assert.deepEqual(badgeText(1, "1 jawaban baru", "{n} jawaban baru"), { number: "1", label: "1 jawaban baru" });
  assert.deepEqual(badgeText(3, "1 jawaban baru", "{n} jawaban baru"), { number: "3", label: "3 jawaban baru" });
});
