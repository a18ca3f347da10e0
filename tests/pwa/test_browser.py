"""What only a browser proves: install, offline, the patron journeys on a phone, touch targets (axe over
every page, patron and staff, is in tests/test_every_page_browser.py)."""

from __future__ import annotations

import json
import re
import struct
import time

import pytest
from sqlalchemy import select

from opac.catalog.models import Location
from opac.circulation.models import Loan
from opac.extensions import db
from tests.pwa.conftest import ARGS, CHROMIUM, PHONE, cache_urls, idb_all, wait_for_sw

pytestmark = [pytest.mark.browser]


@pytest.fixture
def app_config(tmp_path):
    release = tmp_path / "release.txt"
    release.write_text("one")
    return {"PWA_RELEASE_FILE": str(release), "LIVE_SERVER_ENV": {"PWA_RELEASE_FILE": str(release)}}


@pytest.fixture
def site(app, load_records, make_patron, live_server_after_data):
    return live_server_after_data


@pytest.fixture
def world(app, load_records, make_patron):
    ids = load_records([
        dict(title="Laskar Pelangi", authors=["Hirata, Andrea"], year=2005, subjects=["Fiksi Indonesia"],
             items=[{"barcode": "PW1", "location": "PUSAT"}]),
        dict(title="Bumi Manusia", authors=["Toer, Pramoedya Ananta"], year=1980,
             items=[{"barcode": "PW2", "location": "PUSAT"}]),
        dict(title="Ronggeng Dukuh Paruk", authors=["Tohari, Ahmad"], year=1982, items=[{"barcode": "PW3", "location": "PUSAT"}]),
    ])
    pid, card, pin = make_patron(name="Siti Aminah")
    from opac.circulation import actions

    with app.test_request_context():
        db.session.scalar(select(Location)).is_pickup = True
        db.session.commit()
        assert actions.checkout(card, "PW1")["ok"]
        loan_id = db.session.scalar(select(Loan.id))
    return {"records": ids, "card": card, "pin": pin, "loan_id": loan_id, "patron_id": pid}


@pytest.fixture
def live_server_after_data(world, live_server):
    return live_server


def wait_until(check, timeout=20.0):
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "condition not met in time"
        time.sleep(0.2)


def login(page, base, card, pin):
    page.goto(base + "/login")
    page.fill("#card", card)
    page.fill("#pin", pin)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r".*/account/loans"))


def test_manifest_is_valid_and_icons_load(page, site):
    r = page.request.get(site + "/manifest.webmanifest")
    assert r.ok and r.headers["content-type"].startswith("application/manifest+json")
    m = r.json()
    for key in ("name", "short_name", "start_url", "scope", "display", "theme_color", "background_color", "icons",
                "shortcuts", "share_target", "description"):
        assert m.get(key), key
    assert m["display"] == "standalone" and m["scope"] == "/" and "source=" in m["start_url"]
    assert {s["url"].split("?")[0] for s in m["shortcuts"]} == {"/search", "/account/loans", "/card", "/ask"}
    sizes = {}
    for icon in m["icons"]:
        resp = page.request.get(site + icon["src"])
        body = resp.body()
        assert resp.ok and body[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = struct.unpack(">II", body[16:24])
        assert f"{w}x{h}" == icon["sizes"]
        sizes.setdefault(icon.get("purpose", "any"), set()).add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes["any"] and "512x512" in sizes["maskable"]
    shared = page.request.get(site + "/share?title=x&text=laskar%20pelangi", max_redirects=0)
    assert shared.status == 302 and "/search?q=" in shared.headers["location"]


def test_service_worker_controls_the_page(page, site):
    page.goto(site + "/")
    wait_for_sw(page)
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == site + "/"


def test_visited_record_reloads_offline_and_unvisited_shows_offline_page(page, phone, site, world):
    page.goto(site + "/")
    wait_for_sw(page)
    page.goto(f"{site}/record/{world['records'][0]}")
    wait_until(lambda: page.evaluate("""async () => { const c = await caches.open('opac-pages');
        return (await c.keys()).some(r => r.url.includes('/record/'))}"""))
    phone.set_offline(True)
    try:
        page.reload()
        assert page.locator("h1").first.inner_text().startswith("Laskar Pelangi")
        assert page.locator("#offline-banner").is_visible()
        # a cover that cannot be fetched offline is a placeholder, never a broken image
        page.wait_for_function("() => [...document.querySelectorAll('img.cover')].every(i => i.complete)")
        assert page.evaluate("[...document.querySelectorAll('img.cover')].every(i => i.naturalWidth > 0)")
        page.goto(f"{site}/record/{world['records'][1]}")
        # the offline page says it once: in its heading, not again in the banner
        assert page.locator("h1").first.inner_text() == "Anda sedang luring"
        assert page.locator("#offline-banner").is_hidden()
        page.wait_for_selector("#offline-list a")
        assert "Laskar Pelangi" in page.locator("#offline-list").inner_text()
        # in English when that is the device's language
        phone.add_cookies([{"name": "lang", "value": "en", "url": site}])
        page.goto(f"{site}/record/{world['records'][1]}")
        assert page.locator("h1").first.inner_text() == "You are offline"
        phone.add_cookies([{"name": "lang", "value": "id", "url": site}])
        # offline search runs over the records on the device and says so
        page.goto(f"{site}/search?q=laskar")
        page.wait_for_selector("#offline-hits")
        assert "Laskar Pelangi" in page.locator("#offline-hits").inner_text()
        assert page.locator(".offline-page .notice").count() == 1
    finally:
        phone.set_offline(False)


def test_saved_list_works_offline(page, phone, site, world):
    page.goto(site + "/")
    wait_for_sw(page)
    page.goto(f"{site}/record/{world['records'][2]}")
    page.click("[data-save-record]")
    page.wait_for_function("() => document.querySelector('[data-save-record]').getAttribute('aria-pressed') === 'true'")
    phone.set_offline(True)
    try:
        page.goto(site + "/saved")
        page.wait_for_selector("#saved-list a")
        assert "Ronggeng Dukuh Paruk" in page.locator("#saved-list").inner_text()
    finally:
        phone.set_offline(False)


# the sync a page starts as it opens, answered slowly: the server has answered before the save
SLOW_FIRST_SYNC = """(() => {
  const real = window.fetch.bind(window);
  let first = true;
  window.fetch = (url, init) => {
    if (!first || !String(url).includes("/api/v1/saved/sync")) return real(url, init);
    first = false;
    return real(url, init).then((r) => { window.__syncAnswered = true;
      return new Promise((ok) => setTimeout(() => { window.__syncDelivered = true; ok(r); }, 3000)); });
  };
})()"""


def test_a_save_outlives_a_slow_answer_to_an_earlier_sync(app, page, site, world):
    """The answer to a sync sent before a save (the list then empty) comes after the save's own sync:
    it must not wipe the save from the device (the old clear-then-put did: a race that _leave_traces,
    which saves right after a page opens, could lose on a loaded machine)."""
    from opac.accounts.models import SavedRecord

    page.goto(site + "/")
    wait_for_sw(page)
    login(page, site, world["card"], world["pin"])
    page.add_init_script(SLOW_FIRST_SYNC)
    rid = world["records"][0]
    page.goto(f"{site}/record/{rid}")
    page.wait_for_function("() => window.__syncAnswered === true")  # nothing saved yet when it was answered
    page.click("[data-save-record]")
    page.wait_for_function("() => document.querySelector('[data-save-record]').getAttribute('aria-pressed') === 'true'")
    page.wait_for_function("() => window.__syncDelivered === true", timeout=30000)
    time.sleep(1.0)  # what the late answer does, it has done by now
    wait_until(lambda: [(s["id"], s["dirty"], s["removed"]) for s in idb_all(page, "saved")] == [(rid, False, False)])
    with app.app_context():
        assert db.session.scalars(select(SavedRecord.record_id).where(SavedRecord.patron_id == world["patron_id"])).all() == [rid]


def test_patron_snapshot_offline_and_gone_after_logout(page, phone, site, world):
    page.goto(site + "/")
    wait_for_sw(page)
    login(page, site, world["card"], world["pin"])
    wait_until(lambda: len(idb_all(page, "snapshot")) >= 3)
    phone.set_offline(True)
    try:
        page.goto(site + "/account/loans")
        page.wait_for_selector("[data-snapshot=loans] .loan")
        text = page.locator("#offline-view").inner_text()
        # dates as the server writes them, in the library's time zone; never ISO
        assert "Laskar Pelangi" in text and not re.search(r"\d{4}-\d{2}-\d{2}", text)
        assert re.search(r"Jatuh tempo \d{1,2} (Jan|Feb|Mar|Apr|Mei|Jun|Jul|Agu|Sep|Okt|Nov|Des) \d{4}", text), text
        assert re.search(r"\d{4} \d{2}\.\d{2}", page.locator(".stale-note").inner_text())
        assert page.locator("#offline-banner").is_hidden()
        # a renewal asked for on the snapshot waits in the queue
        page.click("[data-snapshot=loans] form[data-offline-action=renew] button")
        page.wait_for_selector("[data-queue-status=pending]")
        assert [q["url"] for q in idb_all(page, "queue")] == [f"/api/v1/loans/{world['loan_id']}/renew"]
        page.goto(site + "/card")
        page.wait_for_selector("#library-card svg")
        assert world["card"] in page.locator("#library-card").inner_text()
    finally:
        phone.set_offline(False)
    # patron pages never went into a cache
    assert not [u for u in cache_urls(page) if "/account/" in u or "/api/v1/loans" in u or "/card" in u]
    page.goto(site + "/account")
    page.click("form[data-logout] button")
    page.wait_for_url(re.compile(r".*/$"))
    assert idb_all(page, "snapshot") == []
    assert "opac_patron" not in page.evaluate("document.cookie")
    assert not [u for u in cache_urls(page) if "/account/" in u or "loans" in u]


def test_renewal_made_offline_completes_exactly_once(app, page, phone, site, world):
    page.goto(site + "/")
    wait_for_sw(page)
    login(page, site, world["card"], world["pin"])
    page.goto(site + "/account/loans")
    phone.set_offline(True)
    page.click(f"form[action='/account/loans/{world['loan_id']}/renew'] button")
    page.wait_for_selector("[data-queue-status=pending]")
    queued = idb_all(page, "queue")
    assert len(queued) == 1 and queued[0]["status"] == "pending"
    phone.set_offline(False)
    page.wait_for_selector("[data-queue-status=done]", timeout=30000)
    assert "2026" in page.locator("#queue-status").inner_text() or "20" in page.locator("#queue-status").inner_text()
    # a second flush (another tab, a reconnect) sends nothing new
    page.evaluate("window.dispatchEvent(new Event('online'))")
    time.sleep(1.0)
    page.reload()
    time.sleep(1.0)
    with app.app_context():
        assert db.session.get(Loan, world["loan_id"]).renewals == 1


def test_update_prompt_when_the_service_worker_changes(app, page, site):
    page.goto(site + "/")
    wait_for_sw(page)
    with open(app.config["PWA_RELEASE_FILE"], "w") as f:
        f.write("two")
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    page.wait_for_selector("#update-banner:not([hidden])", timeout=30000)
    old = page.evaluate("navigator.serviceWorker.controller.scriptURL")
    with page.expect_navigation():
        page.click("#update-reload")
    wait_for_sw(page)
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == old  # same URL, new version
    assert page.locator("#update-banner").is_hidden()


PAGES = ["/", "/search?q=laskar", "RECORD", "/login", "/account", "/ask"]


def _pages(site, world):
    return [site + (f"/record/{world['records'][0]}" if p == "RECORD" else p) for p in PAGES]


def test_no_horizontal_scroll_at_320px_and_touch_targets(browser, site, world):
    ctx = browser.new_context(**{**PHONE, "viewport": {"width": 320, "height": 640}})
    page = ctx.new_page()
    try:
        for url in _pages(site, world):
            if url.endswith("/account"):
                login(page, site, world["card"], world["pin"])
            page.goto(url)
            sw, cw = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert sw <= cw, (url, sw, cw)
            small = page.evaluate("""() => [...document.querySelectorAll('main a.btn, main button, .main-nav a, input[type=search], main select')]
              .filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect())
              .filter(r => r.height < 44).length""")
            assert small == 0, url
    finally:
        ctx.close()


def test_works_without_javascript(browser, site, world):
    ctx = browser.new_context(**PHONE, java_script_enabled=False)
    page = ctx.new_page()
    try:
        page.goto(site + "/search?q=pramoedya")
        assert "Bumi Manusia" in page.content()
        page.click("a.hit-link")
        assert page.locator("h1").first.inner_text().startswith("Bumi Manusia")
        login(page, site, world["card"], world["pin"])
        assert "Laskar Pelangi" in page.content()
    finally:
        ctx.close()


def test_chrome_says_installable(tmp_path, playwright_instance, site):
    ctx = playwright_instance.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                                 args=ARGS, headless=True, **PHONE)
    try:
        page = ctx.new_page()
        page.goto(site + "/")
        wait_for_sw(page)
        cdp = ctx.new_cdp_session(page)
        errors = None
        for _ in range(10):
            errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
            if not errors:
                break
            time.sleep(0.5)
        assert errors == [], json.dumps(errors)
        manifest = cdp.send("Page.getAppManifest")
        assert not manifest.get("errors")
    finally:
        ctx.close()


def test_hold_and_question_made_offline_are_sent_once_online(app, page, phone, site, world):
    from opac.circulation.models import Hold
    from opac.reference.models import Question

    page.goto(site + "/")
    wait_for_sw(page)
    login(page, site, world["card"], world["pin"])  # keeps the snapshot and the pickup locations
    wait_until(lambda: any(m["key"] == "pickup-locations" for m in idb_all(page, "meta")))
    page.goto(site + "/ask")  # remembers the form stamp for asking offline
    wait_until(lambda: any(m["key"] == "ask-stamp" for m in idb_all(page, "meta")))
    page.goto(f"{site}/record/{world['records'][1]}")
    phone.set_offline(True)
    try:
        page.goto(f"{site}/record/{world['records'][1]}/hold")
        page.wait_for_selector("form[data-offline-action=hold] select[name=pickup_location_id]")
        page.click("form[data-offline-action=hold] button[type=submit]")
        page.wait_for_selector("[data-queue-status=pending]")
        time.sleep(3.5)  # a person takes a moment to type a question
        page.goto(site + "/ask")
        page.fill("form[data-offline-action=ask] textarea[name=question]", "Apakah ada buku Bumi Manusia edisi lama?")
        assert page.locator("form[data-offline-action=ask] button[type=submit]").inner_text() == "Simpan dan kirim saat daring"
        assert page.locator("form[data-offline-action=ask] select[name=category]").input_value() == "other"
        page.select_option("form[data-offline-action=ask] select[name=category]", "research")
        page.click("form[data-offline-action=ask] button[type=submit]")
        wait_until(lambda: len([q for q in idb_all(page, "queue") if q["status"] == "pending"]) == 2)
    finally:
        phone.set_offline(False)
    page.goto(site + "/account/holds")
    wait_until(lambda: all(q["status"] == "done" for q in idb_all(page, "queue")) or not idb_all(page, "queue"), 30)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    time.sleep(1.5)
    with app.app_context():
        holds = db.session.scalars(select(Hold).where(Hold.patron_id == world["patron_id"])).all()
        assert [h.record_id for h in holds] == [world["records"][1]]
        assert [q.category for q in db.session.query(Question)] == ["research"]


# ----------------------------------------------------------------------------- a shared phone forgets its last patron

PATRON_STORES = ("snapshot", "records", "saved")


def _cookie(phone, name):
    return next((c["value"] for c in phone.cookies() if c["name"] == name), None)


def _patron_left_nothing(page):
    """IndexedDB, Cache Storage and web storage hold nothing of the patron; the app shell stays."""
    for store in PATRON_STORES:
        assert idb_all(page, store) == [], store
    assert {m["key"] for m in idb_all(page, "meta")} <= {"pickup-locations"}
    urls = cache_urls(page)
    assert not [u for u in urls if "/search" in u or "/record/" in u or "/account" in u or "/card" in u], urls
    assert any(u.startswith("opac-shell-") and u.endswith("/offline/id") for u in urls)
    assert any(u.startswith("opac-shell-") and "/assets/js/store." in u for u in urls)
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "opac_patron" not in page.evaluate("document.cookie")


def _leave_traces(page, site, world):
    """Patron A searches, opens and saves a record, keeps the snapshot, and stores something locally."""
    login(page, site, world["card"], world["pin"])
    wait_until(lambda: len(idb_all(page, "snapshot")) >= 3)
    page.goto(site + "/search?q=laskar")
    page.goto(f"{site}/record/{world['records'][0]}")
    page.click("[data-save-record]")
    page.wait_for_function("() => document.querySelector('[data-save-record]').getAttribute('aria-pressed') === 'true'")
    page.evaluate("localStorage.setItem('opac-note', 'Siti'); sessionStorage.setItem('opac-note', 'Siti')")
    wait_until(lambda: any("/search?q=laskar" in u for u in cache_urls(page))
               and any("/record/" in u for u in cache_urls(page)))
    wait_until(lambda: idb_all(page, "records") and idb_all(page, "saved")
               and any(m["key"] == "patron" for m in idb_all(page, "meta")))


def _shows_nothing_of_the_patron_offline(page, site, world):
    page.goto(f"{site}/search?q=laskar")
    page.wait_for_selector("#offline-list li")
    assert page.locator("#offline-hits").count() == 0 or "Laskar" not in page.locator("#offline-hits").inner_text()
    page.goto(f"{site}/record/{world['records'][0]}")
    assert "Laskar" not in page.locator("main").inner_text()
    page.goto(site + "/account/loans")
    page.wait_for_selector("#offline-view p")
    assert page.locator("[data-snapshot]").count() == 0 and "Laskar" not in page.locator("main").inner_text()
    page.goto(site + "/saved")
    time.sleep(0.5)
    assert "Laskar" not in page.locator("main").inner_text()


def test_online_logout_erases_everything_the_patron_left(app, page, phone, site, world):
    page.goto(site + "/")
    wait_for_sw(page)
    _leave_traces(page, site, world)
    page.goto(site + "/account")
    page.click("form[data-logout] button")
    page.wait_for_url(re.compile(r".*/$"))
    wait_until(lambda: not idb_all(page, "records") and not idb_all(page, "saved"))
    _patron_left_nothing(page)
    assert page.request.get(site + "/api/v1/session").json()["authenticated"] is False
    phone.set_offline(True)
    try:
        _shows_nothing_of_the_patron_offline(page, site, world)
    finally:
        phone.set_offline(False)


def test_anonymous_saved_list_stays(page, site, world):
    page.goto(site + "/")
    wait_for_sw(page)
    page.goto(f"{site}/record/{world['records'][1]}")
    page.click("[data-save-record]")
    page.wait_for_function("() => document.querySelector('[data-save-record]').getAttribute('aria-pressed') === 'true'")
    page.goto(site + "/")
    page.reload()
    time.sleep(0.5)
    assert [s["title"] for s in idb_all(page, "saved")] == ["Bumi Manusia"]


def test_offline_logout_clears_at_once_and_ends_the_session_on_reconnect(app, page, phone, site, world, make_patron):
    import requests

    from opac.accounts.models import AuthSession

    _, card_b, pin_b = make_patron(name="Budi Santoso")
    page.goto(site + "/")
    wait_for_sw(page)
    _leave_traces(page, site, world)
    cookie_a, flag_a = _cookie(phone, "session"), _cookie(phone, "opac_patron")
    page.goto(site + "/account/loans")
    phone.set_offline(True)
    try:
        page.click(f"form[action='/account/loans/{world['loan_id']}/renew'] button")  # queued, never sent
        page.wait_for_selector("[data-queue-status=pending]")
        page.goto(site + "/account")  # the offline page offers to log out
        page.click("#offline-logout")
        page.wait_for_url(re.compile(r".*/$"))
        # the device is cleared at once; only the logout waits, bound to A's session
        wait_until(lambda: not idb_all(page, "records") and not idb_all(page, "snapshot"))
        _patron_left_nothing(page)
        queued = idb_all(page, "queue")
        assert [(q["kind"], q["body"]) for q in queued] == [("logout", {"logout_token": flag_a})]
        page.wait_for_selector("[data-queue-status=pending]")
        assert "perangkat ini" in page.locator("#queue-status").inner_text()
        _shows_nothing_of_the_patron_offline(page, site, world)
        # B logs in on the phone before the queued logout reaches the server
        csrf = phone.request.get(site + "/api/v1/session").json()["csrf_token"]
        r = phone.request.post(site + "/api/v1/login", data={"card": card_b, "pin": pin_b},
                               headers={"X-CSRFToken": csrf})
        assert r.ok, r.text()
    finally:
        phone.set_offline(False)
    page.goto(site + "/")
    wait_until(lambda: idb_all(page, "queue") == [])
    # A's session is over on the server: A's old cookie is anonymous
    assert requests.get(site + "/api/v1/session", cookies={"session": cookie_a}, timeout=5).json()["authenticated"] is False
    with app.app_context():
        assert db.session.scalars(select(AuthSession).where(AuthSession.user_id == world["patron_id"])).all() == []
    # and B is still logged in on the phone
    me = phone.request.get(site + "/api/v1/session").json()
    assert me["authenticated"] and me["patron"]["card_number"] == card_b


def test_logout_form_used_offline_is_sent_on_reconnect(page, phone, site, world):
    import requests

    page.goto(site + "/")
    wait_for_sw(page)
    _leave_traces(page, site, world)
    cookie_a = _cookie(phone, "session")
    page.goto(site + "/account")
    phone.set_offline(True)
    try:
        page.click("form[data-logout] button")  # the page was open when the network went
        page.wait_for_url(re.compile(r".*/$"))
        wait_until(lambda: not idb_all(page, "saved"))
        _patron_left_nothing(page)
        assert [q["kind"] for q in idb_all(page, "queue")] == ["logout"]
    finally:
        phone.set_offline(False)
    # back online, the first page asked for is A's loans: the queued logout goes out before it
    page.goto(site + "/account/loans")
    assert "/login" in page.url and "Laskar" not in page.locator("main").inner_text()
    wait_until(lambda: idb_all(page, "queue") == [])
    assert requests.get(site + "/api/v1/session", cookies={"session": cookie_a}, timeout=5).json()["authenticated"] is False
    assert page.request.get(site + "/api/v1/session").json()["authenticated"] is False


def test_session_ended_on_the_server_makes_the_device_forget(app, page, site, world):
    from sqlalchemy import delete

    from opac.accounts.models import AuthSession

    page.goto(site + "/")
    wait_for_sw(page)
    _leave_traces(page, site, world)
    with app.app_context():  # the session ran out, or the patron ended it from another device
        db.session.execute(delete(AuthSession).where(AuthSession.user_id == world["patron_id"]))
        db.session.commit()
    page.goto(site + "/")
    wait_until(lambda: not idb_all(page, "saved") and not idb_all(page, "snapshot"))
    _patron_left_nothing(page)


def test_logout_when_the_server_cannot_be_reached_is_queued_by_the_worker(page, phone, site, world):
    """"Lie-fi": the phone says it is online but nothing gets through; the worker queues the logout."""
    import requests

    page.add_init_script("Object.defineProperty(Navigator.prototype, 'onLine', { get: () => true })")
    page.goto(site + "/")
    wait_for_sw(page)
    _leave_traces(page, site, world)
    cookie_a, flag_a = _cookie(phone, "session"), _cookie(phone, "opac_patron")
    page.goto(site + "/account")
    phone.set_offline(True)
    try:
        page.click("form[data-logout] button")
        page.wait_for_url(re.compile(r".*/$"), timeout=30000)
        wait_until(lambda: "opac_patron" not in page.evaluate("document.cookie"))
        _patron_left_nothing(page)
        assert [(q["kind"], q["body"]) for q in idb_all(page, "queue")] == [("logout", {"logout_token": flag_a})]
    finally:
        phone.set_offline(False)
    page.goto(site + "/account/loans")
    assert "/login" in page.url and "Laskar" not in page.locator("main").inner_text()
    wait_until(lambda: idb_all(page, "queue") == [])
    assert requests.get(site + "/api/v1/session", cookies={"session": cookie_a}, timeout=5).json()["authenticated"] is False
