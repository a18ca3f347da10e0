// The service worker's rules: what is kept, what is never cached, which offline copy is shown.
import assert from "node:assert/strict";
import { test } from "node:test";

import { cacheable, isKeptPage, isLogout, isPrivatePath, isStaticAsset, pageKey, shellCandidates } from "../../static/pwa/js/routes.js";

const u = (path) => new URL("https://opac.example" + path);

test("patron and staff pages are private; catalogue pages are kept", () => {
  for (const p of ["/account/loans", "/card", "/staff/desk", "/login", "/api/v1/loans", "/api/v1/session", "/ask/thread/abc", "/questions"]) {
    assert.equal(isPrivatePath(u(p)), true, p);
  }
  for (const p of ["/", "/record/12", "/search", "/faq", "/info", "/new", "/news/3"]) {
    assert.equal(isKeptPage(u(p)), true, p);
    assert.equal(isPrivatePath(u(p)), false, p);
  }
  assert.equal(isKeptPage(u("/ask")), false);
  assert.equal(isStaticAsset(u("/assets/js/app.0123456789.js")), true);
  assert.equal(isLogout(u("/logout")), true);
  assert.equal(isLogout(u("/staff/logout")), true);
  assert.equal(isLogout(u("/logout/x")), false);
});

test("only a plain 200 that allows it is cached", () => {
  const r = (status, cc, type = "basic") => ({ status, type, headers: new Map([["Cache-Control", cc]]) });
  assert.equal(cacheable(r(200, "no-cache")), true);
  assert.equal(cacheable(r(200, "private, no-store")), false);
  assert.equal(cacheable(r(200, "no-store")), false);
  assert.equal(cacheable(r(404, "no-cache")), false);
  assert.equal(cacheable(r(200, "", "opaque")), false);
  assert.equal(cacheable(null), false);
});

test("a page is kept once, whatever the source or hash", () => {
  assert.equal(pageKey("https://opac.example/search?q=x&source=pwa#top"), "https://opac.example/search?q=x");
});

test("the offline page in the device's language, else the default one", () => {
  const precache = ["/offline/id", "/offline/en", "/saved/id", "/saved/en", "/assets/app.1.css"];
  assert.deepEqual(shellCandidates("/offline", "en", precache), ["/offline/en", "/offline/id", "/offline/en"]);
  assert.deepEqual(shellCandidates("/offline", null, precache), ["/offline/id", "/offline/en"]);
  assert.deepEqual(shellCandidates("/saved", "xx", precache), ["/saved/id", "/saved/en"]);
});
