"""Record editing in a real browser, on a phone (390 px) and at the desk (1280 px): no sideways
scrolling, no cell squeezed below its longest word, no serious accessibility fault, and the edit
and copy forms work from the keyboard."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from opac.catalog.models import Item, Record
from opac.extensions import db
from tests.browser import PHONE

pytestmark = [pytest.mark.browser]


@pytest.fixture
def site(app, load_records, make_staff, live_server):
    ids = load_records([
        dict(title="Perpustakaan dan Masyarakat Informasi Indonesia", authors=["Sulistyo-Basuki"],
             items=[{"barcode": "R1", "location": "PUSAT"}, {"barcode": "R2", "location": "PUSAT"}]),
        dict(title="Bumi Manusia", items=[{"barcode": "R3", "location": "PUSAT"}]),
    ])
    user, password = make_staff()
    return {"url": live_server, "ids": ids, "user": user, "password": password}


def check_layout(page, axe, where):
    for d in page.locator("details").all():
        d.evaluate("el => el.open = true")
    sw, cw = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sw <= cw, (where, sw, cw)
    broken = page.evaluate("""() => [...document.querySelectorAll('table.rtable th, table.rtable td')]
      .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1).length""")
    assert broken == 0, where
    bad = [v for v in axe.run(page).response["violations"]
           if v["id"] == "color-contrast" or v["impact"] in ("serious", "critical")]
    assert not bad, (where, [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in bad])


def test_edit_a_record_and_its_copies_on_a_phone_and_at_the_desk(app, browser, site):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    base, rid = site["url"], site["ids"][0]
    ctx = browser.new_context(**PHONE, locale="id-ID")
    page = ctx.new_page()
    page.set_default_timeout(20000)
    try:
        page.goto(base + "/staff/login")
        page.fill("#username", site["user"])
        page.fill("#password", site["password"])
        page.press("#password", "Enter")
        page.wait_for_url(re.compile(r".*/staff/$"))
        # the catalogue, from the staff menu, finds the record by a copy's barcode
        page.goto(base + "/staff/records")
        page.fill("#rq", "R2")
        page.press("#rq", "Enter")
        page.wait_for_url(re.compile(r".*q=R2"))
        check_layout(page, axe, "catalogue at 390")
        page.click(f"a[href$='/staff/records/{rid}']")
        page.wait_for_url(re.compile(rf".*/staff/records/{rid}$"))
        check_layout(page, axe, "record at 390")
        copies = page.locator("#copies ~ table.rtable tbody tr").first
        assert copies.evaluate("e => getComputedStyle(e).display") == "block"  # cards on the phone

        # the title, by keyboard
        page.fill("#f-title", "Perpustakaan dan Masyarakat")
        page.press("#f-publisher", "Enter")
        page.wait_for_selector(".flash")
        assert page.input_value("#f-title") == "Perpustakaan dan Masyarakat"
        # a copy with a barcode already taken: told whose it is, nothing added
        page.fill("#c-barcode", "R3")
        page.press("#c-barcode", "Enter")
        page.wait_for_selector(".flash-error")
        assert "Bumi Manusia" in page.inner_text(".flash-error")

        page.set_viewport_size({"width": 1280, "height": 800})
        page.reload()
        check_layout(page, axe, "record at 1280")
        assert page.locator("#copies ~ table.rtable thead").first.evaluate(
            "e => getComputedStyle(e).position") != "absolute"  # a real table at the desk
        # change a copy's status in its row
        page.select_option("select[aria-label$='R1']", "missing")
        page.click("button[form][type=submit] >> nth=0")
        page.wait_for_selector(".flash-success")
    finally:
        ctx.close()
    with app.app_context():
        assert db.session.get(Record, rid).title == "Perpustakaan dan Masyarakat"
        assert db.session.scalar(select(Item.status).where(Item.barcode == "R1")) == "missing"
        assert db.session.scalar(select(db.func.count(Item.id)).where(Item.barcode == "R3")) == 1
