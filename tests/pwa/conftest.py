"""Real-browser fixtures: Debian's chromium driven by Playwright, phone-sized, against gunicorn."""

from __future__ import annotations

import pytest

from tests.browser import ARGS, CHROMIUM, PHONE  # noqa: F401  (used by the browser tests)


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(**PHONE, service_workers="allow", locale="id-ID")
    yield ctx
    ctx.close()


@pytest.fixture
def page(phone):
    p = phone.new_page()
    p.set_default_timeout(20000)
    yield p


def wait_for_sw(page):
    """Until the service worker controls the page (the first visit installs it, a reload hands over)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # evaluate awaits the promise
    for _ in range(3):
        if page.evaluate("!!navigator.serviceWorker.controller"):
            return
        page.reload()
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    assert page.evaluate("!!navigator.serviceWorker.controller")


def idb_all(page, store: str):
    return page.evaluate("""(name) => new Promise((resolve, reject) => {
      const req = indexedDB.open("opac", 2);
      req.onupgradeneeded = () => { for (const n of ["snapshot","records","saved","queue","meta"]) req.result.createObjectStore(n, {keyPath: "key"}); };
      req.onsuccess = () => { const tx = req.result.transaction(name, "readonly"); const g = tx.objectStore(name).getAll();
        g.onsuccess = () => { resolve(g.result); req.result.close(); }; g.onerror = () => reject(g.error); };
      req.onerror = () => reject(req.error);
    })""", store)


def cache_urls(page):
    return page.evaluate("""async () => { const out = [];
      for (const name of await caches.keys()) { const c = await caches.open(name);
        for (const r of await c.keys()) out.push(name + " " + r.url); }
      return out; }""")
