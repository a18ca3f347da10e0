"""The circulation desk in a real browser at 1280 px, by keyboard and scanner only (every staff page at\n390 px and 1280 px is walked in tests/test_every_page_browser.py)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from opac.catalog.models import Item, Location
from opac.circulation.models import Hold, Loan
from opac.extensions import db

pytestmark = [pytest.mark.browser]

#: records every tone the page plays (frequency), so the test can tell success from error by ear
TONE_SPY = """(() => {
  window.__tones = [];
  const Real = window.AudioContext;
  if (!Real) return;
  window.AudioContext = function () {
    const ctx = new Real();
    const make = ctx.createOscillator.bind(ctx);
    ctx.createOscillator = () => { const o = make(); const start = o.start.bind(o);
      o.start = (t) => { window.__tones.push(o.frequency.value); return start(t); }; return o; };
    return ctx;
  };
})();"""


@pytest.fixture
def staff_world(app, load_records, make_patron, make_staff):
    ids = load_records([
        dict(title="Perpustakaan dan Masyarakat", items=[{"barcode": "S1", "location": "PUSAT"}]),
        dict(title="Bumi Manusia", items=[{"barcode": "S2", "location": "PUSAT"}]),
        dict(title="Ronggeng Dukuh Paruk", items=[{"barcode": "S3", "location": "PUSAT"}, {"barcode": "S4", "location": "PUSAT"}]),
        dict(title="Cantik Itu Luka", items=[{"barcode": "S5", "location": "PUSAT"}]),
    ])
    _, card, _ = make_patron(name="Siti Aminah Rahmawati")
    other, other_card, _ = make_patron(name="Budi Santoso")
    user, password = make_staff()
    from opac.circulation import actions
    from opac.circulation.rules import today

    with app.test_request_context():
        db.session.scalar(select(Location)).is_pickup = True
        db.session.commit()
        assert actions.checkout(other_card, "S2")["ok"]
        db.session.scalar(select(Loan)).due_date = today() - timedelta(days=4)  # overdue
        db.session.commit()
        pickup = db.session.scalar(select(Location.id))
        assert actions.place_hold(other, ids[2], pickup)["ok"]  # to pull: S3/S4 on the shelf
        assert actions.place_hold(other, ids[3], pickup)["ok"]
        hold = db.session.scalar(select(Hold).where(Hold.record_id == ids[3]))
        s5 = db.session.scalar(select(Item).where(Item.barcode == "S5"))
        hold.status, hold.item_id, hold.pickup_by, s5.status = "ready", s5.id, today(), "on_hold_shelf"
        db.session.commit()
    return {"card": card, "user": user, "password": password}


@pytest.fixture
def site(staff_world, live_server):
    return live_server


def staff_login(page, site, world):
    page.goto(site + "/staff/login")
    page.fill("#username", world["user"])
    page.fill("#password", world["password"])
    page.press("#password", "Enter")
    page.wait_for_url(re.compile(r".*/staff/$"))


def focused(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def autofocused(page, element_id: str) -> bool:
    """Whether the page gives ``element_id`` the focus by itself: the browser applies ``autofocus`` at
    a rendering step of its own, which on a busy machine comes after the load event (waits up to the
    page's timeout)."""
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=element_id)
    return focused(page) == element_id


def scan(page, code: str, expect: str):
    """What a USB barcode scanner does: type the code quickly and press Enter."""
    before = page.evaluate("document.querySelectorAll('#desk-result .desk-flash').length ? "
                           "document.getElementById('desk-result').innerHTML : ''")
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")
    deadline = time.time() + 15
    while time.time() < deadline:
        state, html = page.evaluate("[document.getElementById('desk-result').dataset.result, "
                                    "document.getElementById('desk-result').innerHTML]")
        if state == expect and html != before:
            return
        time.sleep(0.1)
    raise AssertionError((code, expect, state))


def test_desk_by_keyboard_and_scanner_at_1280(browser, site, staff_world):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="id-ID")
    ctx.add_init_script(TONE_SPY)
    page = ctx.new_page()
    page.set_default_timeout(20000)
    try:
        staff_login(page, site, staff_world)
        page.goto(site + "/staff/desk")
        assert autofocused(page, "card")  # checkout mode by default, the card first
        page.keyboard.type(staff_world["card"], delay=5)
        page.keyboard.press("Enter")  # the scanner's Enter after the card moves on to the item
        assert focused(page) == "barcode-out"
        scan(page, "S1", "ok")
        assert focused(page) == "barcode-out" and page.input_value("#barcode-out") == ""
        assert "Perpustakaan dan Masyarakat" in page.inner_text("#desk-result [role=status]")
        # switch to check-in with the keyboard; the check-in field takes the focus
        page.keyboard.press("F4")
        page.wait_for_url(re.compile(r".*mode=checkin"))
        page.wait_for_function("document.activeElement && document.activeElement.id === 'barcode-in'")
        assert page.get_attribute(".mode-checkin", "aria-current") == "page"
        # a stack of returns: every scan is a check-in, the focus never leaves the field
        scan(page, "S1", "ok")
        assert focused(page) == "barcode-in"
        scan(page, "S2", "ok")
        assert "Bumi Manusia" in page.inner_text("#desk-result [role=status]")
        assert focused(page) == "barcode-in"
        scan(page, "NO-SUCH-ITEM", "error")
        alert = page.locator("#desk-result [role=alert]")
        assert alert.is_visible() and alert.locator(".desk-icon use").get_attribute("href").endswith("#i-error")
        assert focused(page) == "barcode-in" and page.input_value("#barcode-in") == "NO-SUCH-ITEM"
        scan(page, "S2", "ok")  # the error was selected: the next scan replaces it
        assert focused(page) == "barcode-in"
        tones = page.evaluate("window.__tones")
        assert 880 in tones and 220 in tones  # two different tones for success and error
        # the mode is remembered: a fresh visit opens the desk in check-in mode
        page.goto(site + "/staff/desk")
        assert focused(page) == "barcode-in" and page.locator("#barcode-out").count() == 0
        # mute, still by keyboard: the sound button sits just before the field; no more tones
        page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.hasAttribute('data-mute')")
        page.keyboard.press("Space")
        assert page.get_attribute("[data-mute]", "aria-pressed") == "true"
        page.keyboard.press("Tab")
        assert focused(page) == "barcode-in"
        n = len(page.evaluate("window.__tones"))
        scan(page, "S1", "ok")
        assert len(page.evaluate("window.__tones")) == n
        # back to check-out with F2: card, Enter, then the items one after another
        with page.expect_navigation():
            page.keyboard.press("F2")
        assert "mode=checkout" in page.url and autofocused(page, "card")
        page.keyboard.type(staff_world["card"], delay=5)
        page.keyboard.press("Enter")
        assert focused(page) == "barcode-out"
        scan(page, "S1", "ok")
        scan(page, "S2", "ok")
        assert "Bumi Manusia" in page.inner_text("#desk-result .desk-ok[role=status]")
        assert focused(page) == "barcode-out" and page.input_value("#barcode-out") == ""
        scan(page, "S2", "error")  # already on loan to this patron
        assert page.locator("#desk-result .desk-error[role=alert]").is_visible()
        assert focused(page) == "barcode-out"
    finally:
        ctx.close()

